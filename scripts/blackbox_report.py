"""Summary of a black-box fuzz run (scripts/blackbox-fuzz.sh) from schemathesis' NDJSON report.

Prints, per root field of schema.graphql, how many operations were sent and how they were
answered (data, or the first error's `extensions.code`; `VALIDATION` for a document the server
refused before running it), then every failed check with its request and response, and closes
with `fuzz: N passed, M failed` over the operations sent (one without a response fails).

Exits 1 when a check failed, when fewer than --min-operations operations were sent, or when a
root Query or Mutation field was never exercised.

Usage: python scripts/blackbox_report.py REPORT.ndjson SCHEMA.graphql [--min-operations N]
Needs graphql-core, which schemathesis installs.
"""

from __future__ import annotations

import argparse
import base64
import collections
import json
import sys

import graphql

BODY_LIMIT = 2000


def decode(content: dict | None) -> str:
    if not content:
        return ""
    if "$base64" in content:
        return base64.b64decode(content["$base64"]).decode("utf-8", errors="replace")
    return content.get("string", "")


def root_field(document: str) -> str | None:
    """`Query.viewer` or `Mutation.createDepot`: the first root field of the first operation."""
    try:
        parsed = graphql.parse(document)
    except graphql.GraphQLError:
        return None
    for definition in parsed.definitions:
        if isinstance(definition, graphql.OperationDefinitionNode):
            for selection in definition.selection_set.selections:
                if isinstance(selection, graphql.FieldNode):
                    return f"{definition.operation.value.capitalize()}.{selection.name.value}"
    return None


def schema_root_fields(path: str) -> list[str]:
    schema = graphql.build_schema(open(path, encoding="utf-8").read())
    fields = []
    for kind, root in (("Query", schema.query_type), ("Mutation", schema.mutation_type)):
        if root is not None:
            fields += [f"{kind}.{name}" for name in root.fields]
    return fields


def outcome(status: int, body: str) -> str:
    try:
        payload = json.loads(body)
    except ValueError:
        return f"HTTP {status}, no JSON" if body else f"HTTP {status}, empty"
    if not isinstance(payload, dict):
        return f"HTTP {status}, not an object"
    errors = payload.get("errors") or []
    if not errors:
        return "data"
    first = errors[0] if isinstance(errors[0], dict) else {}
    code = (first.get("extensions") or {}).get("code")
    if code:
        return code
    return "VALIDATION" if "path" not in first else "ERROR WITHOUT CODE"


def clip(text: str) -> str:
    return text if len(text) <= BODY_LIMIT else f"{text[:BODY_LIMIT]}… ({len(text)} characters)"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("report")
    parser.add_argument("schema")
    parser.add_argument("--min-operations", type=int, default=1000)
    args = parser.parse_args()

    per_field: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    failures = []
    sent = failed = 0
    with open(args.report, encoding="utf-8") as events:
        for line in events:
            event = json.loads(line)
            scenario = event.get("ScenarioFinished")
            if not scenario:
                continue
            recorder = scenario["recorder"]
            # A scenario that sent nothing (a stateful run may end before its first step)
            # records no interactions; the --min-operations floor still catches an idle run.
            for case_id, interaction in recorder.get("interactions", {}).items():
                case = recorder.get("cases", {}).get(case_id, {}).get("value", {})
                document = case.get("body") if isinstance(case.get("body"), str) else ""
                field = root_field(document) or recorder["label"]
                response = interaction.get("response")
                sent += 1
                if response is None:
                    per_field[field]["NO RESPONSE"] += 1
                    body, status = "", "-"
                else:
                    status = response["status_code"]
                    body = decode(response.get("content"))
                    per_field[field][outcome(status, body)] += 1
                failed_checks = [
                    check for check in recorder["checks"].get(case_id, []) if check["status"] == "failure"
                ]
                if response is None:
                    failed_checks.append({"name": "response", "failure_info": {"failure": {"message": "no response"}}})
                if failed_checks:
                    failed += 1
                for check in failed_checks:
                    info = (check.get("failure_info") or {}).get("failure") or {}
                    failures.append(
                        {
                            "check": check["name"],
                            "operation": field,
                            "phase": scenario["phase"],
                            "case": case_id,
                            "message": info.get("message") or info.get("title") or "",
                            "query": document,
                            "status": status,
                            "body": body,
                        }
                    )

    expected = schema_root_fields(args.schema)
    width = max(len(name) for name in [*expected, *per_field]) + 2
    print(f"\n{'root field':<{width}}{'sent':>6}  answers")
    for field in [*expected, *sorted(set(per_field) - set(expected))]:
        counts = per_field.get(field, collections.Counter())
        answers = ", ".join(f"{name} {count}" for name, count in counts.most_common())
        print(f"{field:<{width}}{sum(counts.values()):>6}  {answers or '-'}")

    problems = []
    untested = [field for field in expected if not per_field.get(field)]
    if untested:
        problems.append(f"root fields never exercised: {', '.join(untested)}")
    if sent < args.min_operations:
        problems.append(f"only {sent} operations sent, fewer than {args.min_operations}")

    if failures:
        print(f"\nFAILURES ({len(failures)} failed checks in {failed} operations)")
        for number, failure in enumerate(failures, 1):
            print(
                f"\n{number}. {failure['operation']}: {failure['check']} "
                f"(case {failure['case']}, {failure['phase']} phase)\n   {failure['message']}"
            )
            print("   request:\n" + "\n".join(f"     {line}" for line in clip(failure["query"]).splitlines()))
            print(f"   response: HTTP {failure['status']}\n     {clip(failure['body']) or '(empty body)'}")

    total = collections.Counter()
    for counts in per_field.values():
        total.update(counts)
    print(f"\noperations sent: {sent} over {len(per_field)} root fields; answers: "
          + ", ".join(f"{name} {count}" for name, count in total.most_common()))
    for problem in problems:
        print(f"FAILED: {problem}")
    print(f"fuzz: {sent - failed} passed, {failed} failed")
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
