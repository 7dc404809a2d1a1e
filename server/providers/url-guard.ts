import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { UnsafeProviderUrlError } from './errors.js';

/**
 * A user supplies a provider's base URL and the server then makes authenticated requests to it, so
 * a base URL is a server-side request forgery vector. Refused, unless the operator allows them in
 * `PM_MCP_PROVIDER_ALLOWED_HOSTS`: loopback, private (RFC 1918), unique-local, link-local, CGNAT,
 * unspecified, multicast and reserved addresses, also when written as IPv4-mapped, IPv4-compatible
 * or NAT64 IPv6 addresses. Cloud-metadata addresses and names are refused always. Also refused:
 * non-http(s) schemes and credentials in the URL.
 *
 * Checked on the host as WHATWG URL normalises it (so `2130706433`, `0x7f.1` and `0177.0.0.1` are
 * 127.0.0.1), on every address a name resolves to, and again in the socket's DNS lookup on every
 * connection (`guardedLookup`), so a name that changes its answer (DNS rebinding) is refused on the
 * address actually connected to.
 */

export type AddressLookup = (hostname: string) => Promise<{ address: string; family: number }[]>;

/** The name of the operator's allow-list variable, for messages. */
export const allowedHostsVariable = 'PM_MCP_PROVIDER_ALLOWED_HOSTS';

const metadataHostnames = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
]);

const metadataAddresses = new BlockList();
metadataAddresses.addAddress('169.254.169.254', 'ipv4'); // AWS, GCP, Azure, OCI, DigitalOcean…
metadataAddresses.addAddress('169.254.170.2', 'ipv4'); // AWS ECS task metadata
metadataAddresses.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud
metadataAddresses.addAddress('168.63.129.16', 'ipv4'); // Azure host (wireserver), a public address
metadataAddresses.addAddress('192.0.0.192', 'ipv4'); // Oracle Cloud Classic
metadataAddresses.addAddress('fd00:ec2::254', 'ipv6'); // AWS IMDS over IPv6

/** The IPv4 ranges no provider is reached on by default, and how a message names each. */
const refusedIpv4Ranges: readonly (readonly [network: string, prefix: number, kind: string])[] = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'reserved'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];

/**
 * IPv6 forms that carry an IPv4 address in their last 32 bits: IPv4-mapped (::ffff:0:0/96, which
 * BlockList would also match against IPv4 rules), IPv4-compatible (::/96), IPv4-translated
 * (::ffff:0:0:0/96) and the NAT64 well-known prefix (64:ff9b::/96). Each refused IPv4 range is
 * refused inside each of them (written in dotted form, so no bit arithmetic is needed).
 */
const embeddingPrefixes = ['::ffff:', '::', '::ffff:0:', '64:ff9b::'];

const refusedIpv6Ranges: readonly (readonly [network: string, prefix: number, kind: string])[] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['fc00::', 7, 'unique-local'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
  ['100::', 64, 'reserved'],
  // NAT64 with a network-specific local prefix: what it reaches is unknowable from here.
  ['64:ff9b:1::', 48, 'NAT64 local-use'],
  // 6to4 and Teredo embed an IPv4 address too; both are deprecated, so refuse them whole.
  ['2002::', 16, '6to4'],
  ['2001::', 32, 'Teredo'],
];

/**
 * Every refused range in one list (the check made on every connection), and the same ranges one
 * by one in order, native IPv6 ranges first (so `::1` is named loopback, not an embedded 0.0.0.1),
 * to name the kind in a refusal.
 */
const refusedAddresses = new BlockList();
const rangesByKind: { kind: string; list: BlockList }[] = [];
function refuseRange(network: string, prefix: number, type: 'ipv4' | 'ipv6', kind: string): void {
  refusedAddresses.addSubnet(network, prefix, type);
  const list = new BlockList();
  list.addSubnet(network, prefix, type);
  rangesByKind.push({ kind, list });
}
for (const [network, prefix, kind] of refusedIpv6Ranges) refuseRange(network, prefix, 'ipv6', kind);
for (const [network, prefix, kind] of refusedIpv4Ranges) {
  refuseRange(network, prefix, 'ipv4', kind);
  for (const embedding of embeddingPrefixes) {
    refuseRange(`${embedding}${network}`, 96 + prefix, 'ipv6', kind);
  }
}

function bareAddress(address: string): { bare: string; type: 'ipv4' | 'ipv6' } | undefined {
  const bare = address.replace(/^\[|\]$/g, '').split('%')[0] ?? '';
  const family = isIP(bare);
  if (family === 0) return undefined;
  return { bare, type: family === 4 ? 'ipv4' : 'ipv6' };
}

function isMetadataAddress(address: string): boolean {
  const parsed = bareAddress(address);
  return parsed !== undefined && metadataAddresses.check(parsed.bare, parsed.type);
}

/** The kind of non-public address (`loopback`, `private`…), or undefined for a public one. */
export function refusedAddressKind(address: string): string | undefined {
  const parsed = bareAddress(address);
  if (!parsed || !refusedAddresses.check(parsed.bare, parsed.type)) return undefined;
  return rangesByKind.find(({ list }) => list.check(parsed.bare, parsed.type))?.kind ?? 'reserved';
}

/** True when the address is refused unless allowed (metadata addresses are refused always). */
export function isRefusedAddress(address: string): boolean {
  return isMetadataAddress(address) || refusedAddressKind(address) !== undefined;
}

function normaliseHostname(hostname: string): string {
  return hostname.toLowerCase().replace(/\.$/, '');
}

function isMetadataHostname(hostname: string): boolean {
  return metadataHostnames.has(normaliseHostname(hostname));
}

/**
 * The operator's allow-list: exact host names, `*.suffix` wildcards (any name below the suffix),
 * IP addresses and CIDR ranges. A name on the list may resolve to any non-metadata address; an
 * address or range allows those addresses whatever name leads there.
 */
export class ProviderAllowList {
  readonly entries: readonly string[];
  readonly #names = new Set<string>();
  readonly #suffixes: string[] = [];
  readonly #ranges = new BlockList();

  /** Throws `Error` naming the first bad entry. */
  constructor(entries: readonly string[]) {
    this.entries = Object.freeze([...entries]);
    for (const entry of entries) this.#add(entry);
  }

  #add(raw: string): void {
    const entry = raw.trim();
    if (entry === '') return;
    const [address, prefixText, ...rest] = entry.split('/');
    const parsed = bareAddress(address ?? '');
    if (parsed) {
      const max = parsed.type === 'ipv4' ? 32 : 128;
      const prefix = prefixText === undefined ? max : Number(prefixText);
      if (rest.length > 0 || !/^\d{1,3}$/.test(prefixText ?? String(max)) || prefix > max) {
        throw new Error(`has an invalid CIDR range "${entry}" (the prefix must be 0–${max})`);
      }
      this.#ranges.addSubnet(parsed.bare, prefix, parsed.type);
      return;
    }
    const wildcard = entry.startsWith('*.');
    const name = normaliseHostname(wildcard ? entry.slice(2) : entry);
    if (!isHostname(name)) {
      throw new Error(
        `has an invalid entry "${entry}" (expected a host name, *.domain, an IP address or a CIDR range)`,
      );
    }
    if (wildcard) this.#suffixes.push(`.${name}`);
    else this.#names.add(name);
  }

  allowsName(hostname: string): boolean {
    const name = normaliseHostname(hostname);
    return this.#names.has(name) || this.#suffixes.some((suffix) => name.endsWith(suffix));
  }

  allowsAddress(address: string): boolean {
    const parsed = bareAddress(address);
    return parsed !== undefined && this.#ranges.check(parsed.bare, parsed.type);
  }
}

/** A DNS name WHATWG URL would keep as it is (letters, digits, hyphens, dots; no IP form). */
function isHostname(name: string): boolean {
  if (name.length === 0 || name.length > 253 || isIP(name) !== 0) return false;
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name)) return false;
  try {
    return new URL(`http://${name}/`).hostname === name;
  } catch {
    return false;
  }
}

/**
 * Parses `PM_MCP_PROVIDER_ALLOWED_HOSTS` (a comma list). Throws `Error` with a message meant to
 * follow the variable's name ("has an invalid entry …").
 */
export function parseAllowedHosts(value: string): readonly string[] {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  new ProviderAllowList(entries);
  return Object.freeze(entries);
}

export function systemLookup(hostname: string): Promise<{ address: string; family: number }[]> {
  return dnsLookup(hostname, { all: true, verbatim: true });
}

/** The URL with any user info removed, for messages. */
export function describeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}

const askTheOperator = `If it is your organisation's own server on a private network, ask the server's operator to allow it in ${allowedHostsVariable}.`;

export interface ProviderUrlGuardOptions {
  /** DNS resolution (tests inject one). Default `dns.lookup`. */
  lookup?: AddressLookup | undefined;
  /** The operator's `PM_MCP_PROVIDER_ALLOWED_HOSTS` entries. Default none. */
  allowedHosts?: readonly string[] | ProviderAllowList | undefined;
}

function allowListOf(options: ProviderUrlGuardOptions): ProviderAllowList {
  const { allowedHosts } = options;
  return allowedHosts instanceof ProviderAllowList
    ? allowedHosts
    : new ProviderAllowList(allowedHosts ?? []);
}

/**
 * Why `hostname`, resolved to `addresses`, may not be reached; undefined when it may. Every
 * address must pass: one metadata or refused address refuses the name.
 */
function refusalFor(
  hostname: string,
  addresses: readonly string[],
  allowList: ProviderAllowList,
  subject: string,
): string | undefined {
  if (isMetadataHostname(hostname) || addresses.some(isMetadataAddress)) {
    return `${subject} a cloud-metadata address, which is always refused.`;
  }
  if (allowList.allowsName(hostname)) return undefined;
  for (const address of addresses) {
    const kind = refusedAddressKind(address);
    if (kind !== undefined && !allowList.allowsAddress(address)) {
      const article = /^[aeiou]/.test(kind) ? 'an' : 'a';
      return `${subject} ${article} ${kind} address, which this server does not connect to. ${askTheOperator}`;
    }
  }
  return undefined;
}

/**
 * Throws `UnsafeProviderUrlError` unless `rawUrl` is an http(s) URL without credentials whose host
 * (and every address it resolves to) may be reached under the allow-list.
 */
export async function assertSafeProviderBaseUrl(
  rawUrl: string,
  options: ProviderUrlGuardOptions = {},
): Promise<URL> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new UnsafeProviderUrlError('The provider base URL is not an absolute URL.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UnsafeProviderUrlError(
      `The provider base URL must use http or https, not ${url.protocol.replace(/:$/, '')}.`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new UnsafeProviderUrlError(
      'The provider base URL must not contain a user name or password; credentials go in the connection, not the URL.',
    );
  }
  const allowList = allowListOf(options);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const literal = isIP(host) !== 0;
  const direct = refusalFor(
    host,
    literal ? [host] : [],
    allowList,
    `The provider base URL ${describeUrl(url)} points at`,
  );
  if (direct) throw new UnsafeProviderUrlError(direct);
  if (literal) return url;
  let addresses: { address: string }[];
  try {
    addresses = await (options.lookup ?? systemLookup)(host);
  } catch {
    // An unresolvable name cannot reach anything; the request itself will report it.
    return url;
  }
  const resolved = refusalFor(
    host,
    addresses.map(({ address }) => address),
    allowList,
    `The provider host ${host} resolves to`,
  );
  if (resolved) throw new UnsafeProviderUrlError(resolved);
  return url;
}

interface LookupEntry {
  address: string;
  family: 4 | 6;
}

/**
 * The DNS lookup of the sockets axios opens for provider requests: resolves every address and
 * refuses the connection unless all may be reached, so a name that changes its answer after
 * `assertSafeProviderBaseUrl` (DNS rebinding) is refused on the address actually connected to, on
 * every new connection. (Node skips the lookup for an IP literal; a literal base URL cannot change
 * and was checked by `assertSafeProviderBaseUrl`, redirects are never followed.)
 */
export function guardedLookup(
  options: ProviderUrlGuardOptions = {},
): (hostname: string, lookupOptions: object) => Promise<[LookupEntry[]]> {
  const allowList = allowListOf(options);
  const lookup = options.lookup ?? systemLookup;
  return async (hostname) => {
    const addresses = isMetadataHostname(hostname) ? [] : await lookup(hostname);
    const refusal = refusalFor(
      hostname,
      addresses.map(({ address }) => address),
      allowList,
      `The provider host ${hostname} resolves to`,
    );
    if (refusal) throw new UnsafeProviderUrlError(refusal);
    return [addresses.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }))];
  };
}
