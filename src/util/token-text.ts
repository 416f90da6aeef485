// The shape of a credential that travels in an HTTP header (e-conomic's grant and app secret tokens):
// printable ASCII without spaces. Anything else (a line break, NUL, a space, non-ASCII) can only be a
// mistake, and would make every call fail in a way that looks transient.
const TOKEN_TEXT = /^[\x21-\x7E]+$/;

export function isTokenText(value: string): boolean {
  return TOKEN_TEXT.test(value);
}
