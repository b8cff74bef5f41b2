/**
 * RBAC for the identity the API server will see: one binding for the user and one per group, with the
 * exact (prefixed) names. Never for system: groups: binding system:authenticated would grant the role to
 * every authenticated client of the cluster, service accounts included.
 */
import { Document, parseAllDocuments } from 'yaml';
import { fnv1a128Hex } from '../cache-key.js';
import { isRecord, jsonEqual, YAML_OPTIONS, type Artifact, type WiringInput } from './common.js';

const RBAC_GROUP = 'rbac.authorization.k8s.io';
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_NAME = 253;
const HASH_LENGTH = 8;

export function isDnsSubdomain(name: string): boolean {
  return name.length <= MAX_NAME && DNS1123_SUBDOMAIN.test(name);
}

/**
 * `prefix` + `value` made a valid object name (DNS-1123 subdomain). When the value had to be changed
 * (case, characters such as `@` or `:`, length), a hash of the original is appended, so distinct
 * subjects (e.g. `Jane` and `jane`) never share a binding name.
 */
export function bindingName(prefix: string, value: string): string {
  const labels = value
    .toLowerCase()
    .replace(/[^a-z0-9.]+/g, '-')
    .split('.')
    .map((label) => label.replace(/^-+|-+$/g, ''))
    .filter((label) => label !== '');
  let sanitised = labels.join('.');
  const hash = fnv1a128Hex(value).slice(0, HASH_LENGTH);
  const room = MAX_NAME - prefix.length - 1 - HASH_LENGTH;
  const changed = sanitised !== value || sanitised.length > MAX_NAME - prefix.length;
  if (!changed) return `${prefix}${sanitised}`;
  sanitised = sanitised.slice(0, room).replace(/[-.]+$/, '');
  return sanitised === '' ? `${prefix}${hash}` : `${prefix}${sanitised}-${hash}`;
}

interface Subject {
  kind: 'User' | 'Group';
  name: string;
}

function binding(input: WiringInput, name: string, subject: Subject): Record<string, unknown> {
  const namespace = input.rbac.namespace;
  const metadata: Record<string, unknown> = { name };
  if (namespace !== undefined) metadata['namespace'] = namespace;
  return {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: namespace === undefined ? 'ClusterRoleBinding' : 'RoleBinding',
    metadata,
    roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: input.rbac.clusterRole },
    subjects: [{ apiGroup: RBAC_GROUP, kind: subject.kind, name: subject.name }],
  };
}

export function buildRbac(input: WiringInput): Artifact {
  const { identity, rbac } = input;
  if (identity === undefined) return { text: '', problems: ['the API server would reject this token; fix the findings first'] };

  const problems: string[] = [];
  if (identity.username.startsWith('system:')) {
    problems.push(`the username ${identity.username} starts with "system:", which Kubernetes reserves for its own components: set a username prefix`);
  }
  if (rbac.clusterRole === '' || /[/%]/.test(rbac.clusterRole)) problems.push(`${JSON.stringify(rbac.clusterRole)} is not a valid ClusterRole name`);
  if (rbac.namespace !== undefined && !(rbac.namespace.length <= 63 && DNS1123_LABEL.test(rbac.namespace))) problems.push(`${JSON.stringify(rbac.namespace)} is not a valid namespace name`);

  const subjects: Subject[] = [{ kind: 'User', name: identity.username }];
  for (const group of new Set(identity.groups)) {
    if (!group.startsWith('system:')) subjects.push({ kind: 'Group', name: group });
  }
  const objects = subjects.map((subject) => binding(input, bindingName(subject.kind === 'User' ? 'oidc-user-' : 'oidc-group-', subject.name), subject));
  const text = objects
    // `directives: true` starts each document with `---`: together one multi-document stream.
    .map((object) => new Document(object).toString({ ...YAML_OPTIONS, directives: true }))
    .join('');

  problems.push(...validateRbac(text, objects));
  return { text, problems };
}

/** Checks the documents as a reader of the text gets them. */
function validateRbac(text: string, expected: Array<Record<string, unknown>>): string[] {
  const problems: string[] = [];
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs) || docs.length !== expected.length) return ['internal error: the RBAC YAML does not read back'];
  const names = new Set<string>();
  docs.forEach((doc, i) => {
    if (doc.errors.length > 0) problems.push(`internal error: RBAC document ${i + 1}: ${doc.errors[0]?.message ?? ''}`);
    const object: unknown = doc.toJS();
    if (!jsonEqual(object, expected[i])) problems.push(`internal error: RBAC document ${i + 1} does not read back`);
    if (!isRecord(object) || !isRecord(object['metadata'])) return;
    const name = String(object['metadata']['name']);
    if (!isDnsSubdomain(name)) problems.push(`internal error: ${name} is not a valid object name`);
    if (names.has(name)) problems.push(`internal error: two bindings are named ${name}`);
    names.add(name);
    const subjects = object['subjects'];
    if (Array.isArray(subjects)) {
      for (const subject of subjects) {
        if (isRecord(subject) && subject['kind'] === 'Group' && String(subject['name']).startsWith('system:')) problems.push(`refusing to bind the group ${String(subject['name'])}`);
        if (isRecord(subject) && subject['name'] === '') problems.push('a subject has an empty name');
      }
    }
  });
  return problems;
}
