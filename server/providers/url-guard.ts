import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { UnsafeProviderUrlError } from './errors.js';

/**
 * A user supplies a provider's base URL and the server then makes authenticated requests to it, so
 * a base URL is a server-side request forgery vector. Refused: non-http(s) schemes, credentials in
 * the URL, and link-local / cloud-metadata addresses (by name, by literal, and by what the name
 * resolves to — every address, checked again at connect time by `guardedLookup`). Loopback and
 * private ranges stay allowed: self-hosted Jira lives there, and so do the tests' fakes.
 */

export type AddressLookup = (hostname: string) => Promise<{ address: string; family: number }[]>;

const refusedHostnames = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
]);

const refusedAddresses = new BlockList();
// Link-local: AWS, GCP, Azure, OCI, DigitalOcean… metadata at 169.254.169.254, plus the rest.
refusedAddresses.addSubnet('169.254.0.0', 16, 'ipv4');
refusedAddresses.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud metadata
refusedAddresses.addAddress('168.63.129.16', 'ipv4'); // Azure host (wireserver)
refusedAddresses.addAddress('192.0.0.192', 'ipv4'); // Oracle Cloud Classic metadata
refusedAddresses.addSubnet('fe80::', 10, 'ipv6'); // IPv6 link-local
refusedAddresses.addAddress('fd00:ec2::254', 'ipv6'); // AWS IMDS over IPv6
refusedAddresses.addSubnet('64:ff9b::a9fe:0', 112, 'ipv6'); // NAT64 form of 169.254.0.0/16
// IPv4-mapped IPv6 (::ffff:169.254.169.254) is matched against the IPv4 rules by BlockList.

export function systemLookup(hostname: string): Promise<{ address: string; family: number }[]> {
  return dnsLookup(hostname, { all: true, verbatim: true });
}

/** True when the address (IPv4 or IPv6 literal) is one we never connect to. */
export function isRefusedAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').split('%')[0] ?? '';
  const family = isIP(bare);
  if (family === 0) return false;
  return refusedAddresses.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

function isRefusedHostname(hostname: string): boolean {
  return refusedHostnames.has(hostname.toLowerCase().replace(/\.$/, ''));
}

/** The URL with any user info removed, for messages. */
export function describeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}

/**
 * Throws `UnsafeProviderUrlError` unless `rawUrl` is an http(s) URL without credentials whose host
 * is not, and does not resolve to, a link-local or cloud-metadata address.
 */
export async function assertSafeProviderBaseUrl(
  rawUrl: string,
  options: { lookup?: AddressLookup } = {},
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
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isRefusedHostname(host) || isRefusedAddress(host)) {
    throw new UnsafeProviderUrlError(
      `The provider base URL ${describeUrl(url)} points at a link-local or cloud-metadata address, which is refused.`,
    );
  }
  if (isIP(host) !== 0) return url;
  const lookup = options.lookup ?? systemLookup;
  let addresses: { address: string }[];
  try {
    addresses = await lookup(host);
  } catch {
    // An unresolvable name cannot reach anything; the request itself will report it.
    return url;
  }
  if (addresses.some(({ address }) => isRefusedAddress(address))) {
    throw new UnsafeProviderUrlError(
      `The provider host ${host} resolves to a link-local or cloud-metadata address, which is refused.`,
    );
  }
  return url;
}

interface LookupEntry {
  address: string;
  family: 4 | 6;
}

/**
 * The DNS lookup axios uses for provider requests: resolves every address and refuses the
 * connection when any is link-local / metadata, so a name that changes its answer after
 * `assertSafeProviderBaseUrl` (DNS rebinding) still cannot reach the metadata service.
 */
export function guardedLookup(
  lookup: AddressLookup = systemLookup,
): (hostname: string, options: object) => Promise<[LookupEntry[]]> {
  return async (hostname) => {
    if (isRefusedHostname(hostname)) {
      throw new UnsafeProviderUrlError(`Refusing to connect to ${hostname}.`);
    }
    const addresses = await lookup(hostname);
    if (addresses.some(({ address }) => isRefusedAddress(address))) {
      throw new UnsafeProviderUrlError(
        `The provider host ${hostname} resolves to a link-local or cloud-metadata address, which is refused.`,
      );
    }
    return [addresses.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }))];
  };
}
