// Who may publish and subscribe where. One set of rules, used by the embedded broker's hooks and
// written out as a Mosquitto pattern ACL, so both brokers enforce the same thing: a gateway
// (username = its gateway id) publishes only under its own id and reads only its own receipts and
// commands, the hub's status and the prices.
export const TOPIC_ROOT = 'wattproof/v1';
export const HUB_USERNAME = 'hub';

const GATEWAY_ID = /^gw-[a-z2-7]{16}$/;

/** Topics a gateway may publish to, with `%u` for its username (Mosquitto's pattern syntax). */
export const GATEWAY_WRITE_PATTERNS = [
  `${TOPIC_ROOT}/gw/%u/status`,
  `${TOPIC_ROOT}/gw/%u/proof`,
  `${TOPIC_ROOT}/gw/%u/event`,
  `${TOPIC_ROOT}/gw/%u/telemetry`,
  `${TOPIC_ROOT}/gw/%u/cmd/+/res`,
] as const;

/** Topic filters a gateway may subscribe to. */
export const GATEWAY_READ_PATTERNS = [
  `${TOPIC_ROOT}/gw/%u/receipt`,
  `${TOPIC_ROOT}/gw/%u/cmd/#`,
  `${TOPIC_ROOT}/hub/status`,
  `${TOPIC_ROOT}/prices/#`,
] as const;

export function isGatewayUsername(username: string): boolean {
  return GATEWAY_ID.test(username);
}

/** Splits into levels; an MQTT topic level never contains '/'. */
function levels(s: string): string[] {
  return s.split('/');
}

/** Whether a concrete topic name (no wildcards) matches a pattern with + and #. */
function topicMatches(pattern: string, topic: string): boolean {
  const p = levels(pattern);
  const t = levels(topic);
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '#') return true;
    if (i >= t.length) return false;
    if (p[i] !== '+' && p[i] !== t[i]) return false;
  }
  return p.length === t.length;
}

/**
 * Whether every topic a subscription filter can match is also matched by the pattern: the filter
 * is no wider than the pattern. '+' in the filter is only covered by '+' or '#' in the pattern.
 */
function filterCovered(pattern: string, filter: string): boolean {
  const p = levels(pattern);
  const f = levels(filter);
  for (let i = 0; i < f.length; i++) {
    const pl = p[i];
    if (pl === '#') return true;
    if (pl === undefined) return false;
    const fl = f[i] as string;
    if (fl === '#') return false;
    if (fl === '+') {
      if (pl !== '+') return false;
    } else if (pl !== '+' && pl !== fl) return false;
  }
  return p.length === f.length || (p.length === f.length + 1 && p[f.length] === '#');
}

function hasWildcard(topic: string): boolean {
  return topic.includes('+') || topic.includes('#');
}

function expand(pattern: string, username: string): string {
  return pattern.replaceAll('%u', username);
}

export function canPublish(username: string | undefined, topic: string): boolean {
  if (username === undefined || hasWildcard(topic) || topic.includes('\0')) return false;
  if (username === HUB_USERNAME) return topic.startsWith(`${TOPIC_ROOT}/`);
  if (!isGatewayUsername(username)) return false;
  return GATEWAY_WRITE_PATTERNS.some((p) => topicMatches(expand(p, username), topic));
}

export function canSubscribe(username: string | undefined, filter: string): boolean {
  if (username === undefined || filter.includes('\0')) return false;
  if (username === HUB_USERNAME) return filter.startsWith(`${TOPIC_ROOT}/`) || filter === `${TOPIC_ROOT}/#`;
  if (!isGatewayUsername(username)) return false;
  return GATEWAY_READ_PATTERNS.some((p) => filterCovered(expand(p, username), filter));
}

/** The Mosquitto ACL file text for these rules (pattern ACLs on the username). */
export function mosquittoAclText(hubUsername = HUB_USERNAME): string {
  return [
    '# Written by wattproof-hub. Gateways: username = gateway id (%u).',
    `user ${hubUsername}`,
    `topic readwrite ${TOPIC_ROOT}/#`,
    '',
    ...GATEWAY_WRITE_PATTERNS.map((p) => `pattern write ${p}`),
    ...GATEWAY_READ_PATTERNS.map((p) => `pattern read ${p}`),
    '',
  ].join('\n');
}
