import { describe, expect, it } from 'vitest';
import { FrameWriter, jsonStringBytes, jsonStringLength } from '../../host/output-sse.js';

const literal = (bytes: Buffer): string => {
  const out = Buffer.alloc(jsonStringLength(bytes));
  const n = jsonStringBytes(bytes, out, 0);
  expect(n).toBe(out.length);
  return out.toString('utf8');
};

describe('output SSE frames', () => {
  it('escapes bytes exactly as JSON.stringify escapes the decoded text', () => {
    const samples = [
      '',
      'plain ascii',
      'quotes " and \\ backslashes',
      'controls \b\f\n\r\t \u0000 \u0001 \u001f \u007f end',
      'utf-8: é, 漢字, emoji 😀, separators \u2028 \u2029',
      Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join(''),
    ];
    for (const s of samples) expect(literal(Buffer.from(s, 'utf8'))).toBe(JSON.stringify(s));
  });

  it('frames a chunk as the tRPC writer does: superjson envelope, then the resume id', () => {
    const chunk = { stepId: 3, iteration: 2, phase: 'implementation' as const, attempt: 1, offset: 12 };
    const text = 'line "one"\nline two é\n';
    const frame = new FrameWriter().frame({ ...chunk, bytes: Buffer.from(text) }).toString('utf8');
    expect(frame).toBe(`data: ${JSON.stringify({ json: { ...chunk, chunk: text } })}\nid: 3:12\n\n`);
  });

  it('decodes invalid UTF-8 like toString() does (replacement characters)', () => {
    const bytes = Buffer.from([0x61, 0xff, 0xfe, 0x62, 0x0a]);
    const frame = new FrameWriter().frame({ stepId: 1, iteration: 1, phase: 'review', attempt: 1, offset: 5, bytes }).toString('utf8');
    const data = JSON.parse(frame.split('\n')[0]!.slice('data: '.length)) as { json: { chunk: string } };
    expect(data.json.chunk).toBe(bytes.toString('utf8'));
  });

  it('grows its buffer for a chunk that escapes to more than the chunk size', () => {
    const bytes = Buffer.alloc(70 * 1024, 0x01);
    const frame = new FrameWriter().frame({ stepId: 1, iteration: 1, phase: 'implementation', attempt: 1, offset: bytes.length, bytes }).toString('utf8');
    const data = JSON.parse(frame.split('\n')[0]!.slice('data: '.length)) as { json: { chunk: string } };
    expect(data.json.chunk).toBe(bytes.toString('utf8'));
  });
});
