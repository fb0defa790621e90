/**
 * Client addresses as the per-address brute-force limit sees them.
 *
 * - An IPv4 address is its own group; an IPv4-mapped IPv6 address
 *   (`::ffff:192.0.2.1`, what a dual-stack socket reports) is the IPv4 one.
 * - An IPv6 address is grouped by its /64: one host usually holds a whole
 *   /64, so counting single IPv6 addresses would give an attacker 2^64
 *   fresh counters.
 * - Anything that is not an IP address (empty, a name, garbage) has no group:
 *   the caller treats the attempt as coming from an unknown source.
 *
 * CIDR lists (`exempt`) are parsed once into a node:net BlockList.
 */
import { BlockList, isIP, SocketAddress } from 'node:net';

/** The address without brackets or a port, as Envoy, sockets or X-Forwarded-For may give it. */
function bareAddress(address: string): string {
  const text = address.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) return bracketed[1]!;
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(text);
  return v4WithPort ? v4WithPort[1]! : text;
}

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

export interface ParsedAddress {
  readonly family: 'ipv4' | 'ipv6';
  readonly address: string;
}

/** The IP address in `address`, normalized (mapped IPv4 unwrapped); undefined when it is none. */
export function parseAddress(address: string): ParsedAddress | undefined {
  const bare = bareAddress(address);
  const mapped = MAPPED_V4.exec(bare);
  if (mapped && isIP(mapped[1]!) === 4) return { family: 'ipv4', address: mapped[1]! };
  const version = isIP(bare);
  if (version === 4) return { family: 'ipv4', address: bare };
  if (version === 6) return { family: 'ipv6', address: bare };
  return undefined;
}

/** Eight 16-bit groups of an IPv6 address (`::` expanded, an embedded IPv4 tail converted). */
function ipv6Groups(address: string): number[] {
  const withoutZone = address.split('%')[0]!;
  let text = withoutZone;
  const v4Tail = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (v4Tail) {
    const [a, b, c, d] = v4Tail[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -v4Tail[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const missing = 8 - left.length - right.length;
  return [...left, ...Array.from({ length: tail === undefined ? 0 : missing }, () => '0'), ...right].map((g) => parseInt(g, 16));
}

/**
 * The counting group of a client address: `4:<ipv4>` or `6:<first 64 bits>`;
 * undefined when `address` is not an IP address.
 */
export function sourceGroupOf(address: string): string | undefined {
  const parsed = parseAddress(address);
  if (!parsed) return undefined;
  if (parsed.family === 'ipv4') return `4:${parsed.address}`;
  const groups = ipv6Groups(parsed.address);
  return `6:${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/** A CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a single address; undefined when malformed. */
export function parseCidr(text: string): { readonly address: string; readonly prefix: number; readonly family: 'ipv4' | 'ipv6' } | undefined {
  const [addressPart, prefixPart, extra] = text.trim().split('/');
  if (extra !== undefined || addressPart === undefined) return undefined;
  const parsed = parseAddress(addressPart);
  if (!parsed || addressPart.includes('[')) return undefined;
  const max = parsed.family === 'ipv4' ? 32 : 128;
  if (prefixPart === undefined) return { ...parsed, prefix: max };
  if (!/^\d{1,3}$/.test(prefixPart)) return undefined;
  const prefix = Number(prefixPart);
  return prefix <= max ? { ...parsed, prefix } : undefined;
}

/** Addresses in any of the CIDRs; built once, asked per request. */
export class AddressSet {
  readonly #list = new BlockList();
  readonly size: number;

  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const parsed = parseCidr(cidr);
      if (!parsed) throw new TypeError(`not an IP address or CIDR: entry ${cidrs.indexOf(cidr)} of the list`);
      this.#list.addSubnet(new SocketAddress({ address: parsed.address, family: parsed.family }), parsed.prefix);
    }
    this.size = cidrs.length;
  }

  has(address: string): boolean {
    if (this.size === 0) return false;
    const parsed = parseAddress(address);
    return parsed !== undefined && this.#list.check(parsed.address, parsed.family);
  }
}
