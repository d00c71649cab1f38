// GraphiQL on the vendored React and GraphiQL builds, with a fetcher of our own: queries and
// mutations over HTTP with the Headers tab's headers, subscriptions over graphql-transport-ws
// with those headers as the `connection_init` payload.
import { ENDPOINT, Socket } from '/assets/client.js';

const DEFAULT_QUERY = `# Sign in (no token needed), then put the token in the Headers tab below as
# {"Authorization": "Bearer <accessToken>"}: queries, mutations and subscriptions use it.
mutation SignIn {
  signIn(email: "ada@acme.example", password: "lastmile-demo") {
    accessToken
    refreshToken
    expiresIn
    scoped
    organizations { id name }
  }
}
`;

/** The document without comments and string contents, so only its tokens remain. */
function tokensOnly(document) {
  return document
    .replace(/"""[\s\S]*?"""/g, '""')
    .replace(/"(?:[^"\\\n]|\\.)*"/g, '""')
    .replace(/#[^\n]*/g, '');
}

/** The type of the operation that runs: the one named `operationName`, else the first. */
function operationType(document, operationName) {
  const source = tokensOnly(document);
  const operations = [];
  let depth = 0;
  let header = false; // between a definition's keyword and its selection set
  const token = /[{}()]|[_A-Za-z][_0-9A-Za-z]*/g;
  let match;
  while ((match = token.exec(source))) {
    const word = match[0];
    if (word === '{' || word === '(') {
      if (depth === 0 && word === '{') {
        if (!header) operations.push({ type: 'query' }); // the `{ … }` shorthand
        header = false;
      }
      depth++;
    } else if (word === '}' || word === ')') {
      depth--;
    } else if (depth === 0 && ['query', 'mutation', 'subscription', 'fragment'].includes(word) && !header) {
      header = true;
      const name = /^\s*([_A-Za-z][_0-9A-Za-z]*)/.exec(source.slice(token.lastIndex));
      if (word !== 'fragment') operations.push({ type: word, name: name?.[1] });
    }
  }
  const chosen = operations.find((o) => operationName && o.name === operationName) ?? operations[0];
  return chosen?.type ?? 'query';
}

/** A subscription on a socket of its own, as the Observable GraphiQL expects. */
function subscription(params, headers) {
  return {
    subscribe(observer) {
      let done = false;
      const finish = () => {
        if (!done) {
          done = true;
          socket.close();
          observer.complete();
        }
      };
      const socket = new Socket({ payload: headers });
      const stop = socket.subscribe(params, {
        next: (result) => observer.next(result),
        error: (errors) => {
          observer.next({ errors: Array.isArray(errors) ? errors : [errors] });
          finish();
        },
        complete: finish,
      });
      return {
        unsubscribe() {
          stop();
          finish();
        },
      };
    },
  };
}

async function overHttp(params, headers) {
  const response = await fetch(ENDPOINT, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify(params),
  });
  return response.json();
}

function fetcher(params, options = {}) {
  const headers = options.headers ?? {};
  if (operationType(params.query ?? '', params.operationName) === 'subscription') {
    return subscription(params, headers);
  }
  return overHttp(params, headers);
}

const root = ReactDOM.createRoot(document.getElementById('graphiql'));
root.render(
  React.createElement(GraphiQL, {
    fetcher,
    defaultQuery: DEFAULT_QUERY,
    defaultEditorToolsVisibility: 'headers',
    shouldPersistHeaders: false,
  }),
);
