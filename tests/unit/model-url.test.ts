import { describe, expect, it } from 'vitest';
import { baseUrlOf, modelIdOf, parseModelUrl, treeUrl, type HostPolicy } from '../../workers/model-store/model-url';

const testBuild: HostPolicy = { hubs: ['https://huggingface.co'], loopback: true };

const named = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as Error).name;
  }
  return 'no error';
};

describe('parseModelUrl', () => {
  it('reads a bare repository id as a Hugging Face repository', () => {
    const ref = parseModelUrl('schmuell/sd-turbo-ort-web');
    expect(ref).toEqual({ origin: 'https://huggingface.co', repo: 'schmuell/sd-turbo-ort-web', revision: 'main' });
    expect(baseUrlOf(ref)).toBe('https://huggingface.co/schmuell/sd-turbo-ort-web/resolve/main/');
    expect(treeUrl(ref, 'unet')).toBe('https://huggingface.co/api/models/schmuell/sd-turbo-ort-web/tree/main/unet');
    expect(modelIdOf(ref)).toBe('huggingface.co/schmuell/sd-turbo-ort-web');
  });

  it('reads hub URLs, with or without /tree/<rev>/…', () => {
    expect(parseModelUrl('https://huggingface.co/a/b').repo).toBe('a/b');
    expect(parseModelUrl('https://huggingface.co/a/b/tree/fp16/unet')).toMatchObject({ repo: 'a/b', revision: 'fp16' });
  });

  it('allows plain http only on this machine, and only in a test build', () => {
    expect(parseModelUrl('http://127.0.0.1:8123/o/n', testBuild).origin).toBe('http://127.0.0.1:8123');
    expect(parseModelUrl('http://localhost:8123/o/n', testBuild).repo).toBe('o/n');
    expect(named(() => parseModelUrl('http://127.0.0.1:8123/o/n'))).toBe('HostNotAllowedError');
    expect(named(() => parseModelUrl('http://example.com/o/n', testBuild))).toBe('InsecureUrlError');
    expect(named(() => parseModelUrl('http://example.com/o/n'))).toBe('InsecureUrlError');
    expect(named(() => parseModelUrl('ftp://example.com/o/n'))).toBe('InsecureUrlError');
    expect(named(() => parseModelUrl('https://user:pw@example.com/o/n'))).toBe('InsecureUrlError');
  });

  it('refuses https hosts this build does not allow, before any request (the CSP would block them)', () => {
    expect(named(() => parseModelUrl('https://hub.example/o/n'))).toBe('HostNotAllowedError');
    expect(named(() => parseModelUrl('https://cdn-lfs.huggingface.co/o/n'))).toBe('HostNotAllowedError');
    expect(parseModelUrl('https://hub.example/o/n', { hubs: ['https://hub.example'], loopback: false }).origin).toBe('https://hub.example');
    expect(named(() => parseModelUrl('o/n', { hubs: [], loopback: false }))).toBe('HostNotAllowedError');
  });

  it('refuses text that names no repository', () => {
    expect(named(() => parseModelUrl('sd turbo'))).toBe('LayoutError');
    expect(named(() => parseModelUrl('https://huggingface.co/onlyowner'))).toBe('LayoutError');
  });

  // Hostile URLs (issue 25): each is refused with a named error before any request is made.
  it('refuses credentials, other ports, IP literals and look-alike (IDN) hosts', () => {
    expect(named(() => parseModelUrl('https://user@huggingface.co/o/n'))).toBe('InsecureUrlError');
    expect(named(() => parseModelUrl('https://huggingface.co:8443/o/n'))).toBe('HostNotAllowedError');
    expect(named(() => parseModelUrl('https://13.35.1.1/o/n'))).toBe('HostNotAllowedError');
    expect(named(() => parseModelUrl('https://[2600:9000::1]/o/n'))).toBe('HostNotAllowedError');
    expect(named(() => parseModelUrl('http://[::1]:8000/o/n', testBuild))).toBe('InsecureUrlError');
    // Cyrillic "і": the URL parser writes it as punycode, so the message shows the real host
    let shown = '';
    try {
      parseModelUrl('https://huggіngface.co/o/n');
    } catch (err) {
      shown = (err as Error).message;
    }
    expect(shown).toMatch(/^https:\/\/xn--/);
    expect(named(() => parseModelUrl('https://huggingface.co.evil.example/o/n'))).toBe('HostNotAllowedError');
  });

  it('refuses .. paths, encoded slashes and ids too long for the hub', () => {
    expect(named(() => parseModelUrl('owner/../x'))).toBe('LayoutError');
    expect(named(() => parseModelUrl('https://huggingface.co/owner/../x'))).toBe('LayoutError');
    expect(named(() => parseModelUrl('https://huggingface.co/owner/%2e%2e/x'))).toBe('LayoutError');
    expect(named(() => parseModelUrl('https://huggingface.co/own%2Fer/name'))).toBe('LayoutError');
    expect(named(() => parseModelUrl(`${'a'.repeat(97)}/b`))).toBe('LayoutError');
    expect(named(() => parseModelUrl(`https://huggingface.co/a/${'b'.repeat(5000)}`))).toBe('LayoutError');
    expect(parseModelUrl(`${'a'.repeat(96)}/b`).repo).toBe(`${'a'.repeat(96)}/b`);
  });

  it('keeps a revision inside its path segment: an encoded slash or .. is escaped again in file URLs', () => {
    const ref = parseModelUrl('https://huggingface.co/a/b/tree/..%2F..%2Fx');
    expect(ref.revision).toBe('../../x');
    expect(baseUrlOf(ref)).toBe('https://huggingface.co/a/b/resolve/..%2F..%2Fx/');
    expect(named(() => parseModelUrl(`https://huggingface.co/a/b/tree/${'r'.repeat(200)}`))).toBe('LayoutError');
  });
});
