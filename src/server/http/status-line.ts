const REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  413: 'Payload Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

/** uWebSockets.js wants the whole status line, code and reason. */
export function statusLine(status: number): string {
  return `${status} ${REASONS[status] ?? ''}`.trimEnd();
}
