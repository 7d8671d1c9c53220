// The wire format: superjson both ways for loopd's own clients, and plain JSON accepted as input,
// so `curl '.../runs.list?input={"limit":1}'` means what it says instead of being read as a
// superjson envelope with nothing in it (which silently dropped the filter).
import type { DataTransformer } from '@trpc/server';
import superjson from 'superjson';

/**
 * A superjson envelope is an object whose keys are `json` and optionally `meta`; anything else is
 * plain JSON. No loopd input has a field called `json`, so the two cannot be confused.
 */
export function isSuperjsonEnvelope(value: unknown): value is { json: unknown; meta?: unknown } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.includes('json') && keys.every((k) => k === 'json' || k === 'meta');
}

const input: DataTransformer = {
  serialize: (v: unknown) => superjson.serialize(v),
  deserialize: (v: unknown) => {
    // superjson.serialize(undefined) travels as `{}`, now read as an empty object: every loopd
    // input is an object whose fields are all optional where the input itself is, so both mean the same.
    return isSuperjsonEnvelope(v) ? superjson.deserialize(v as Parameters<typeof superjson.deserialize>[0]) : v;
  },
};

export const transformer = { input, output: superjson };
