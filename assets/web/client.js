// The gateway's client for the pages: GraphQL over HTTP, and a small graphql-transport-ws
// socket (the headers go in `connection_init`, which is how the gateway authenticates sockets).

export const ENDPOINT = '/graphql';

/** A GraphQL error answer as an Error carrying the first error's `extensions.code`. */
export class GraphQLError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join('; '));
    this.code = errors[0]?.extensions?.code ?? 'ERROR';
    this.errors = errors;
  }
}

/** POSTs one operation; resolves to the whole response ({data, errors}). */
export async function post(query, variables = {}, headers = {}) {
  const response = await fetch(ENDPOINT, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

/** Runs one operation; resolves to its data, rejects with a GraphQLError. */
export async function request(query, variables = {}, token = null) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const result = await post(query, variables, headers);
  if (result.errors?.length) throw new GraphQLError(result.errors);
  return result.data;
}

/** The WebSocket URL of the endpoint, on this page's origin. */
export function socketUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${ENDPOINT}`;
}

/**
 * One graphql-transport-ws connection. `payload` goes in `connection_init`; `onOpen` runs on
 * the ack, `onClose(code, reason)` when the socket closes (each subscription's `error` is
 * told too). Subscriptions made before the ack are sent on it.
 */
export class Socket {
  constructor({ payload = {}, onOpen = () => {}, onClose = () => {} } = {}) {
    this.sinks = new Map();
    this.pending = [];
    this.acked = false;
    this.nextId = 1;
    this.onOpen = onOpen;
    this.onClose = onClose;
    this.ws = new WebSocket(socketUrl(), 'graphql-transport-ws');
    this.ws.onopen = () => this.send({ type: 'connection_init', payload });
    this.ws.onmessage = (event) => this.receive(JSON.parse(event.data));
    this.ws.onclose = (event) => this.closed(event.code, event.reason);
  }

  /** Starts an operation; `sink` has next(result), error(errors), complete(). Returns its stop. */
  subscribe(operation, sink) {
    const id = String(this.nextId++);
    this.sinks.set(id, sink);
    const message = { id, type: 'subscribe', payload: operation };
    if (this.acked) this.send(message);
    else this.pending.push(message);
    return () => {
      if (this.sinks.delete(id) && this.acked) this.send({ id, type: 'complete' });
    };
  }

  /** Closes the connection normally. */
  close() {
    this.ws.close(1000, 'Normal Closure');
  }

  send(message) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  receive(message) {
    const sink = this.sinks.get(message.id);
    switch (message.type) {
      case 'connection_ack':
        this.acked = true;
        this.pending.splice(0).forEach((m) => this.send(m));
        this.onOpen();
        break;
      case 'ping':
        this.send({ type: 'pong' });
        break;
      case 'next':
        sink?.next(message.payload);
        break;
      case 'error':
        this.sinks.delete(message.id);
        sink?.error(message.payload);
        break;
      case 'complete':
        this.sinks.delete(message.id);
        sink?.complete();
        break;
    }
  }

  closed(code, reason) {
    const errors = [{ message: `connection closed: ${code} ${reason}`.trim(), extensions: { code: String(code) } }];
    const sinks = [...this.sinks.values()];
    this.sinks.clear();
    sinks.forEach((sink) => sink.error(errors));
    this.onClose(code, reason);
  }
}
