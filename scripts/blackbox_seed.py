"""Seeds a fresh gateway for the black-box fuzz run and writes its schemathesis configuration.

Creates an organization (its ADMIN's access token is what the fuzzer sends), a partner
organization, depots, dispatchers and drivers (two of them accept their invitation, so they are
ACTIVE), routes (one assigned) and a share, then writes `schemathesis.toml`: fuzz dictionaries
that put these records' IDs and some valid values (time zones, currencies, emails) into the
generated arguments, so a share of the generated operations reaches real records instead of
stopping at NOT_FOUND or BAD_USER_INPUT.

Usage: python3 scripts/blackbox_seed.py GRAPHQL_URL MAIL_DIR OUT_DIR
Writes OUT_DIR/token (the ADMIN's access token) and OUT_DIR/schemathesis.toml.
Standard library only; every request goes to the given loopback URL with a timeout.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

REQUEST_TIMEOUT = 15
MAIL_WAIT = 20
PASSWORD = "black box password 1"


class Seeder:
    def __init__(self, url: str) -> None:
        host = urllib.parse.urlsplit(url).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit(f"refusing to seed {host}: loopback only")
        self.url = url

    def call(self, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            payload = json.load(response)
        if payload.get("errors"):
            raise SystemExit(f"seeding failed: {json.dumps(payload['errors'])}\nquery: {query}")
        return payload["data"]


def create_organization(seeder: Seeder, name: str, email: str) -> str:
    data = seeder.call(
        "mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { accessToken } }",
        {
            "input": {
                "name": name,
                "adminFirstName": "Ada",
                "adminLastName": "Admin",
                "adminEmail": email,
                "adminPassword": PASSWORD,
            }
        },
    )
    return data["createOrganization"]["accessToken"]


def invitation_tokens(mail_dir: Path, emails: list[str]) -> dict[str, str]:
    """The invitation token mailed to each address, read from the `.eml` files."""
    found: dict[str, str] = {}
    deadline = time.monotonic() + MAIL_WAIT
    while time.monotonic() < deadline:
        for path in sorted(mail_dir.glob("*.eml")):
            text = path.read_text(errors="replace").replace("=\r\n", "").replace("=\n", "")
            marker = "accept-invitation?token=3D" if "token=3D" in text else "accept-invitation?token="
            if marker not in text:
                continue
            token = text.split(marker, 1)[1].split()[0].strip("<>\"'")
            for email in emails:
                if f"\nTo: {email}" in text:
                    found[email] = token
        if len(found) == len(emails):
            return found
        time.sleep(0.2)
    raise SystemExit(f"no invitation mail in {mail_dir} for {sorted(set(emails) - set(found))}")


def toml_list(values: list) -> str:
    return "[" + ", ".join(json.dumps(value) for value in values) + "]"


def main() -> None:
    url, mail_dir, out_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    seeder = Seeder(url)

    token = create_organization(seeder, "Black Box Fleet", "admin@blackbox.example")
    partner_token = create_organization(seeder, "Partner Fleet", "admin@partner.example")
    own_org = seeder.call("{ organization { id } }", token=token)
    partner_org = seeder.call("{ organization { id } }", token=partner_token)["organization"]["id"]

    depots = [
        seeder.call(
            "mutation($input: DepotInput!) { createDepot(input: $input) { id } }",
            {"input": {"name": name, "address": address, "timezone": zone}},
            token=token,
        )["createDepot"]["id"]
        for name, address, zone in [
            ("North", "1 Dock Road", "Europe/Berlin"),
            ("South", None, "America/New_York"),
        ]
    ]

    people = [
        ("Dora", "Driver", "dora@blackbox.example", ["DRIVER"], depots[0]),
        ("Dave", "Driver", "dave@blackbox.example", ["DRIVER"], depots[1]),
        ("Dina", "Driver", "dina@blackbox.example", ["DRIVER"], None),
        ("Pat", "Planner", "pat@blackbox.example", ["DISPATCHER"], None),
    ]
    users = []
    for first, last, email, roles, depot in people:
        users.append(
            seeder.call(
                "mutation($input: InviteUserInput!) { inviteUser(input: $input) { id } }",
                {
                    "input": {
                        "firstName": first,
                        "lastName": last,
                        "email": email,
                        "phone": "+4930123456",
                        "roles": roles,
                        "depotId": depot,
                    }
                },
                token=token,
            )["inviteUser"]["id"]
        )
    accepted = ["dora@blackbox.example", "dave@blackbox.example"]
    for email, invitation in invitation_tokens(mail_dir, accepted).items():
        seeder.call(
            "mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { expiresIn } }",
            {"input": {"token": invitation, "password": PASSWORD}},
        )

    drivers = [
        node["id"]
        for node in seeder.call("{ organization { drivers(first: 50) { nodes { id status } } } }", token=token)[
            "organization"
        ]["drivers"]["nodes"]
    ]
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)
    routes = [
        seeder.call(
            "mutation($input: RouteInput!) { createRoute(input: $input) { id } }",
            {"input": {"name": name, "plannedStart": (start + timedelta(hours=hours)).isoformat(), "depotId": depot}},
            token=token,
        )["createRoute"]["id"]
        for name, hours, depot in [("Morning", 0, depots[0]), ("Noon", 4, depots[1]), ("Evening", 9, None)]
    ]
    active = [
        node["id"]
        for node in seeder.call(
            "{ organization { drivers(first: 50, filter: { available: true }) { nodes { id } } } }", token=token
        )["organization"]["drivers"]["nodes"]
    ]
    if active:
        seeder.call(
            "mutation($r: ID!, $d: ID!) { assignDriver(routeId: $r, driverId: $d) { id } }",
            {"r": routes[0], "d": active[0]},
            token=token,
        )
        seeder.call(
            "mutation($p: ID!, $d: [ID!]!) { shareDrivers(partnerId: $p, driverIds: $d) { id } }",
            {"p": partner_org, "d": active[-1:]},
            token=token,
        )

    ids = [own_org["organization"]["id"], partner_org, *depots, *users, *drivers, *routes]
    dictionaries = {
        "ids": ids,
        "depots": depots,
        "drivers": drivers,
        "users": users,
        "routes": routes,
        "organizations": [own_org["organization"]["id"], partner_org],
        "timezones": ["Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata"],
        "currencies": ["EUR", "USD", "JPY"],
        "delimiters": [",", ";", "\t"],
        "emails": ["admin@blackbox.example", "dora@blackbox.example", "new.person@blackbox.example"],
        "new_emails": ["owner.one@blackbox.example", "owner.two@blackbox.example", "dora@blackbox.example"],
        "names": ["Black Box Fleet", "Partner Fleet"],
        "page_sizes": [0, 1, 2, 10, 500],
    }
    # `<Type>.<field>.<argument path>`: every argument of these names gets a dictionary entry
    # with this probability, anything else (and the rest of the time) is generated.
    bindings = {
        "*.*.id": ("ids", 0.6),
        "Query.user.id": ("users", 0.6),
        "Query.driver.id": ("drivers", 0.6),
        "Query.depot.id": ("depots", 0.6),
        "Query.route.id": ("routes", 0.6),
        "Mutation.editUser.id": ("users", 0.6),
        "Mutation.deleteUser.id": ("users", 0.6),
        "Mutation.updateDepot.id": ("depots", 0.6),
        "Mutation.deleteDepot.id": ("depots", 0.6),
        "*.*.userId": ("users", 0.6),
        "*.*.driverId": ("drivers", 0.6),
        "*.*.driverIds[*]": ("drivers", 0.6),
        "*.*.routeId": ("routes", 0.6),
        "*.*.partnerId": ("organizations", 0.6),
        "*.*.organizationId": ("organizations", 0.6),
        "*.*.input.depotId": ("depots", 0.6),
        "*.*.filter.depotId": ("depots", 0.6),
        "*.*.filter.driverId": ("drivers", 0.6),
        "*.*.input.timezone": ("timezones", 0.5),
        "*.*.input.currency": ("currencies", 0.5),
        "*.*.input.csvDelimiter": ("delimiters", 0.5),
        "*.*.email": ("emails", 0.5),
        "*.*.input.email": ("emails", 0.3),
        "*.*.input.adminEmail": ("new_emails", 0.5),
        "*.*.name": ("names", 0.5),
        "*.*.first": ("page_sizes", 0.5),
        "*.*.last": ("page_sizes", 0.2),
    }
    lines = ["# Written by scripts/blackbox_seed.py for one run; the IDs are this database's.", ""]
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {toml_list(values)}", ""]
    lines.append("[parameters]")
    for key, (name, probability) in bindings.items():
        lines.append(f'"{key}" = {{ dictionary = "{name}", probability = {probability} }}')
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "schemathesis.toml").write_text("\n".join(lines) + "\n")
    (out_dir / "token").write_text(token)
    print(
        f"seeded: 2 organizations, {len(depots)} depots, {len(users)} invited users "
        f"({len(accepted)} accepted), {len(drivers)} drivers, {len(routes)} routes, 1 share"
    )


if __name__ == "__main__":
    main()
