/**
 * Merging one exec user (and optionally a context) into a kubeconfig file, for `setup --write-kubeconfig`.
 *
 * A kubeconfig is hand-edited, commented and shared with other tools, so the file is edited as text: `yaml`
 * parses it and renders the new entries, and each change replaces or inserts one region found through the
 * node ranges. Every byte outside that region stays as it was (re-serialising would drop comments, quoting
 * and order). Each step re-parses the text it edits, so ranges are never stale, and the result is checked
 * against the intended change before anything is written.
 *
 * The file is written under kubectl's own lock (`<file>.lock`, created by kubectl with O_EXCL; proper-lockfile
 * mkdirs the same name, so the two exclude each other), after a backup, by temp file and rename.
 */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
  type Stats,
} from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import lockfile from 'proper-lockfile';
import { isMap, isNode, isScalar, isSeq, parseDocument, stringify, type Document, type Node, type Pair, type YAMLMap, type YAMLSeq } from 'yaml';
import { PluginError } from '../core/errors.js';
import { createFileExclusively, replaceFileAtomically } from './atomic-file.js';

export interface KubeconfigUserEntry {
  name: string;
  /** The `user` of the entry, e.g. `{ exec: {...} }`. */
  user: Record<string, unknown>;
}

export interface MergeRequest {
  /** The kubeconfig file. It may not exist yet; a symlink is written through to its target. */
  path: string;
  /** Added, or replaces the user with the same name. */
  user: KubeconfigUserEntry;
  /**
   * An existing context gets `user` (and `cluster`, when given); a new one is added with `cluster`, or else the
   * cluster of the current context. `current-context` is never changed.
   */
  context?: { name: string; cluster?: string };
}

export type UserAction = 'added' | 'replaced' | 'unchanged';
export type ContextAction = 'added' | 'updated' | 'unchanged';

export interface MergeResult {
  /** The file actually written (symlinks resolved). */
  path: string;
  /** undefined when the file did not exist before, or nothing was written. */
  backupPath: string | undefined;
  /** The file did not exist before. */
  created: boolean;
  userAction: UserAction;
  contextAction: ContextAction | undefined;
}

export interface MergeOptions {
  /** How long to wait for another writer's lock. Default 5 s: kubectl holds it for milliseconds. */
  lockWaitMs?: number;
}

/** kubectl's own layout for a new file (keys sorted, as kubectl writes them). */
const NEW_KUBECONFIG = 'apiVersion: v1\nclusters: []\ncontexts: []\ncurrent-context: ""\nkind: Config\npreferences: {}\nusers: []\n';
const LOCK_WAIT_MS = 5_000;
/** Our lock is a directory refreshed by proper-lockfile; one this old belongs to a killed process. */
const LOCK_STALE_MS = 10_000;

/**
 * The file kubectl writes a new entry to: the first existing file of $KUBECONFIG, else its first entry
 * (client-go's GetDefaultFilename), else ~/.kube/config. Like client-go, no `~` expansion in $KUBECONFIG.
 */
export function defaultKubeconfigPath(
  env: { KUBECONFIG?: string; HOME?: string; USERPROFILE?: string },
  exists: (path: string) => boolean = existsSync,
): string {
  const files = (env.KUBECONFIG ?? '').split(delimiter).filter((file) => file !== '');
  const first = files.find(exists) ?? files[0];
  if (first !== undefined) return first;
  return join(env.HOME || env.USERPROFILE || homedir(), '.kube', 'config');
}

export async function mergeKubeconfig(request: MergeRequest, options: MergeOptions = {}): Promise<MergeResult> {
  const given = resolve(request.path);
  const target = resolveSymlinks(given);
  // kubectl locks the name it was given; a symlinked kubeconfig is also locked under its target's name, for
  // a kubectl that was given the target.
  const lockedFiles = given === target ? [target] : [given, target];
  // No directory, so no file: a request that fails anyway (a new context without a cluster) creates nothing.
  if (!existsSync(dirname(target))) mergeKubeconfigText(undefined, request, target);
  try {
    // The lock lives next to the file, so a new file's directory must exist first (kubectl MkdirAll's it too).
    for (const file of lockedFiles) mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  } catch (error) {
    throw ioError(`could not create the directory of ${target}`, error);
  }
  return withKubeconfigLocks(lockedFiles, options.lockWaitMs ?? LOCK_WAIT_MS, () => {
    const before = readExisting(target);
    const original = before === undefined ? undefined : decodeUtf8(before.bytes, target);
    const { text, userAction, contextAction } = mergeKubeconfigText(original, request, target);
    const result = { path: target, created: before === undefined, userAction, contextAction };
    if (text === original) return { ...result, backupPath: undefined };
    try {
      const backupPath = before === undefined ? undefined : writeBackup(target, before.bytes);
      // Not writeFileAtomically: that one also chmods the directory to 0700, which is wrong for a kubeconfig kept in a
      // shared or project directory. An existing file keeps its mode (and owner, when run as root); a new one is 0600.
      replaceFileAtomically(target, text, before === undefined ? {} : { mode: before.stats.mode & 0o7777, owner: before.stats });
      return { ...result, backupPath };
    } catch (error) {
      throw ioError(`could not write ${target}`, error);
    }
  });
}

/**
 * The pure part: the new text of the kubeconfig (undefined: no file yet), checked against the intended change.
 * `label` names the file in error messages.
 */
export function mergeKubeconfigText(
  original: string | undefined,
  request: Omit<MergeRequest, 'path'>,
  label = 'the kubeconfig',
): { text: string; userAction: UserAction; contextAction: ContextAction | undefined } {
  let base = original ?? NEW_KUBECONFIG;
  let baseDoc = parseKubeconfig(base, label);
  if (baseDoc.contents === null) {
    // Empty, or comments only: keep the comments and add kubectl's layout after them.
    base = base.trim() === '' ? NEW_KUBECONFIG : withFinalNewline(base) + NEW_KUBECONFIG;
    baseDoc = parseKubeconfig(base, label);
  }
  const config = baseDoc.toJS() as Record<string, unknown>;
  const expected = structuredClone(config);
  let text = base;

  // Through JSON: what YAML can hold (undefined fields dropped), so that the result compares equal to it.
  const wantedUser = JSON.parse(JSON.stringify({ name: request.user.name, user: request.user.user })) as Record<string, unknown>;
  const users = listOf(config, 'users');
  const userIndex = indexByName(users, request.user.name, 'users', label);
  let userAction: UserAction;
  if (userIndex !== undefined && isDeepStrictEqual(users[userIndex], wantedUser)) {
    userAction = 'unchanged';
  } else {
    text = upsertItem(text, 'users', userIndex, wantedUser);
    expected['users'] = replaceOrAppend(users, userIndex, wantedUser);
    userAction = userIndex === undefined ? 'added' : 'replaced';
  }

  let contextAction: ContextAction | undefined;
  let wantedContext: Record<string, unknown> | undefined;
  if (request.context !== undefined) {
    const { name, cluster } = request.context;
    const contexts = listOf(config, 'contexts');
    const index = indexByName(contexts, name, 'contexts', label);
    if (index === undefined) {
      const fromCurrent = cluster ?? clusterOfCurrentContext(config, contexts, label);
      // kubectl's key order: context, name.
      wantedContext = { context: { cluster: fromCurrent, user: request.user.name }, name };
      text = upsertItem(text, 'contexts', undefined, wantedContext);
      expected['contexts'] = replaceOrAppend(contexts, undefined, wantedContext);
      contextAction = 'added';
    } else {
      const existing = contexts[index] as Record<string, unknown>;
      const fields: Record<string, string> = { user: request.user.name, ...(cluster === undefined ? {} : { cluster }) };
      const inner = isPlainObject(existing['context']) ? existing['context'] : {};
      wantedContext = { ...existing, context: { ...inner, ...fields } };
      if (isDeepStrictEqual(existing, wantedContext)) {
        contextAction = 'unchanged';
      } else {
        text = setContextFields(text, index, fields, wantedContext['context']);
        expected['contexts'] = replaceOrAppend(contexts, index, wantedContext);
        contextAction = 'updated';
      }
    }
  }

  if (text !== base) checkMerge(text, base, expected, wantedUser, wantedContext, label);
  return { text, userAction, contextAction };
}

// ---- reading the structure ----

function parseKubeconfig(text: string, label: string): Document.Parsed {
  const doc = parseDocument(text);
  const [error] = doc.errors;
  if (error !== undefined) {
    throw new PluginError('ERR_KUBECONFIG', `${label} is not valid YAML: ${firstLine(error.message)}`, {
      hint: 'fix the file (kubectl cannot read it either), or write to another file with --write-kubeconfig=PATH',
      cause: error,
    });
  }
  const top = doc.contents;
  if (top === null) return doc;
  if (!isMap(top)) {
    throw new PluginError('ERR_KUBECONFIG', `${label} is not a kubeconfig: its top level is ${describe(top)}, not a map`, {
      hint: 'write to another file with --write-kubeconfig=PATH',
    });
  }
  for (const key of ['users', 'contexts']) {
    const value = top.get(key, true);
    if (value !== undefined && !isSeq(value) && !isNullNode(value)) {
      throw new PluginError('ERR_KUBECONFIG', `${label} is not a kubeconfig: its "${key}" is ${describe(value)}, not a list`, {
        hint: 'fix the file (kubectl cannot read it either), or write to another file with --write-kubeconfig=PATH',
      });
    }
  }
  return doc;
}

function listOf(config: Record<string, unknown>, key: string): unknown[] {
  const value = config[key];
  return Array.isArray(value) ? value : [];
}

function indexByName(list: unknown[], name: string, key: string, label: string): number | undefined {
  const found = list.flatMap((item, index) => (isPlainObject(item) && String(item['name']) === name ? [index] : []));
  if (found.length > 1) {
    throw new PluginError('ERR_KUBECONFIG', `${label} has ${found.length} ${key} named "${name}"`, {
      hint: `kubectl refuses such a file: remove all but one of them`,
    });
  }
  return found[0];
}

function clusterOfCurrentContext(config: Record<string, unknown>, contexts: unknown[], label: string): string {
  const hint = 'pass the name of an existing context with --context, or the cluster for the new one';
  const current = config['current-context'];
  if (typeof current !== 'string' || current === '') {
    throw new PluginError('ERR_KUBECONFIG', `${label} has no current context to take the cluster from`, { hint });
  }
  const item = contexts.find((entry) => isPlainObject(entry) && entry['name'] === current) as Record<string, unknown> | undefined;
  const cluster = isPlainObject(item?.['context']) ? item['context']['cluster'] : undefined;
  if (typeof cluster !== 'string' || cluster === '') {
    throw new PluginError('ERR_KUBECONFIG', `the current context "${current}" of ${label} ${item === undefined ? 'does not exist' : 'has no cluster'}`, { hint });
  }
  return cluster;
}

// ---- the edits: each parses the text afresh and changes one region ----

/** Replaces item `index` of the top-level list `key`, or appends one (creating the list if need be). */
function upsertItem(text: string, key: string, index: number | undefined, value: unknown): string {
  const top = topMap(text);
  const pair = findPair(top, key);
  if (pair === undefined) return appendPair(text, top, key, [value]);
  const list = pair.value;
  // `users: []`, `users: null`, `users:`: the whole pair is rewritten, in kubectl's style.
  if (!isSeq(list) || list.items.length === 0) return replacePair(text, top, pair, key, [value]);
  const items = list.items as Node[];
  if (list.flow) {
    if (index !== undefined) return splice(text, rangeOf(items[index]), JSON.stringify(value));
    const end = rangeOf(items.at(-1))[1];
    return splice(text, [end, end], `, ${JSON.stringify(value)}`);
  }
  const keyColumn = columnOf(text, rangeOf(pair.key)[0]);
  const { dash, content } = itemPrefix(text, items.at(-1), list);
  // Nested lists follow the list's own style: kubectl's (`- ` under the key) or indented.
  const lines = renderBlock(value, dash.indexOf('-') > keyColumn);
  const eol = eolOf(text);
  if (index !== undefined) {
    const [start, end] = rangeOf(items[index]);
    const column = columnOf(text, start);
    return splice(text, [start, end], indent(lines, '', ' '.repeat(column), eol) + (text[end - 1] === '\n' ? eol : ''));
  }
  const at = lineAfter(text, rangeOf(items.at(-1))[1]);
  return splice(text, [at.pos, at.pos], at.prefix + indent(lines, dash, ' '.repeat(content), eol) + eol);
}

/** Sets fields of the `context` of contexts[index]; a `context` that is not a map is replaced by `whole`. */
function setContextFields(text: string, index: number, fields: Record<string, string>, whole: unknown): string {
  for (const [key, value] of Object.entries(fields)) {
    const item = seqItem(text, 'contexts', index);
    const pair = findPair(item, 'context');
    if (pair === undefined || !isMap(pair.value)) return setPair(text, item, 'context', whole);
    const current = pair.value.get(key);
    if (current !== value) text = setPair(text, pair.value, key, value);
  }
  return text;
}

function setPair(text: string, map: YAMLMap, key: string, value: unknown): string {
  const pair = findPair(map, key);
  return pair === undefined ? appendPair(text, map, key, value) : replacePair(text, map, pair, key, value);
}

function replacePair(text: string, map: YAMLMap, pair: Pair, key: string, value: unknown): string {
  const json = isJsonStyle(text);
  if (typeof value === 'string' && isScalar(pair.value) && pair.value.value !== null) {
    // A scalar (a context's user or cluster) is replaced alone: its key and comment stay as written.
    const scalar = inlineScalar(value, map.flow === true, json);
    if (scalar !== undefined) return splice(text, rangeOf(pair.value), scalar);
  }
  const start = rangeOf(pair.key)[0];
  let end = isNode(pair.value) ? rangeOf(pair.value)[1] : rangeOf(pair.key)[1];
  if (map.flow) return splice(text, [start, end], `${flowKey(key, json)}: ${flowValue(value, json)}`);
  const lines = renderBlock({ [key]: value }, false);
  const eol = eolOf(text);
  const suffix = text[end - 1] === '\n' ? eol : '';
  if (suffix === '' && lines.length > 1) {
    // A comment after the old value (`users: [] # none yet`) stays on the key's line, not after the new block.
    const lineEnd = lineEndOf(text, end);
    const rest = text.slice(end, lineEnd);
    if (rest.trim().startsWith('#')) {
      lines[0] += rest;
      end = lineEnd;
    }
  }
  const column = columnOf(text, start);
  return splice(text, [start, end], indent(lines, '', ' '.repeat(column), eol) + suffix);
}

function appendPair(text: string, map: YAMLMap, key: string, value: unknown): string {
  const pairs = map.items;
  if (map.flow) {
    const last = pairs.at(-1);
    const json = isJsonStyle(text);
    const pairText = `${flowKey(key, json)}: ${flowValue(value, json)}`;
    if (last === undefined) {
      const open = rangeOf(map)[0] + 1;
      return splice(text, [open, open], pairText);
    }
    const end = isNode(last.value) ? rangeOf(last.value)[1] : rangeOf(last.key)[1];
    return splice(text, [end, end], `, ${pairText}`);
  }
  const column = ' '.repeat(columnOf(text, rangeOf(map)[0]));
  const at = lineAfter(text, rangeOf(map)[1]);
  const eol = eolOf(text);
  return splice(text, [at.pos, at.pos], at.prefix + indent(renderBlock({ [key]: value }, false), column, column, eol) + eol);
}

// ---- checking the result ----

/**
 * The new text must parse to exactly the old configuration with the intended change: nothing else moved.
 * The new entries are also read as YAML 1.1, as kubectl's YAML library does (`on`, `yes`: booleans there).
 */
function checkMerge(
  text: string,
  base: string,
  expected: Record<string, unknown>,
  user: Record<string, unknown>,
  context: Record<string, unknown> | undefined,
  label: string,
): void {
  const fail = (what: string): never => {
    throw new PluginError('ERR_KUBECONFIG', `could not merge into ${label} safely (${what}); nothing was written`, {
      hint: 'add the user with `kubectl config set-credentials` instead, and please report this with the layout of the file (without its secrets)',
    });
  };
  const doc = parseDocument(text);
  if (doc.errors.length > 0) fail(`the result does not parse: ${firstLine(doc.errors[0]?.message ?? '')}`);
  const actual = doc.toJS() as Record<string, unknown>;
  for (const key of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
    if (!isDeepStrictEqual(actual[key], expected[key])) fail(`"${key}" would change unexpectedly`);
  }
  const yaml11 = parseDocument(text, { version: '1.1' });
  if (yaml11.errors.length > 0) {
    if (parseDocument(base, { version: '1.1' }).errors.length === 0) fail('the result is not valid YAML 1.1');
    return;
  }
  const config11 = yaml11.toJS() as Record<string, unknown>;
  const find = (key: string, name: unknown) => listOf(config11, key).find((item) => isPlainObject(item) && item['name'] === name);
  if (!isDeepStrictEqual(find('users', user['name']), user)) fail('kubectl would read the user differently');
  if (context !== undefined && !isDeepStrictEqual(find('contexts', context['name']), context)) fail('kubectl would read the context differently');
}

// ---- text helpers ----

type Range = [number, number];

function topMap(text: string): YAMLMap {
  return parseDocument(text).contents as YAMLMap;
}

function seqItem(text: string, key: string, index: number): YAMLMap {
  const list = topMap(text).get(key, true) as unknown as YAMLSeq;
  return list.items[index] as YAMLMap;
}

function findPair(map: YAMLMap, key: string): Pair | undefined {
  return (map.items as Pair[]).find((pair) => isScalar(pair.key) && pair.key.value === key);
}

function isNullNode(value: unknown): boolean {
  return value === null || (isScalar(value) && value.value === null);
}

function rangeOf(node: unknown): Range {
  const range = (node as { range?: [number, number, number] | null } | undefined)?.range;
  if (!range) throw new PluginError('ERR_KUBECONFIG', 'the kubeconfig has a structure this plugin cannot edit (a node without a source range)');
  return [range[0], range[1]];
}

function splice(text: string, [start, end]: Range, replacement: string): string {
  return text.slice(0, start) + replacement + text.slice(end);
}

function columnOf(text: string, pos: number): number {
  const start = text.lastIndexOf('\n', pos - 1) + 1;
  // A byte order mark is not indentation.
  return pos - start - (start === 0 && text.startsWith('\uFEFF') ? 1 : 0);
}

/** Where whole lines can be inserted after `end`: the start of the next line, or the end of a file without a final newline. */
function lineAfter(text: string, end: number): { pos: number; prefix: string } {
  if (end === 0 || text[end - 1] === '\n') return { pos: end, prefix: '' };
  const newline = text.indexOf('\n', end);
  return newline === -1 ? { pos: text.length, prefix: eolOf(text) } : { pos: newline + 1, prefix: '' };
}

/** The end of the line holding pos, before its line break. */
function lineEndOf(text: string, pos: number): number {
  const newline = text.indexOf('\n', pos);
  if (newline === -1) return text.length;
  return text[newline - 1] === '\r' ? newline - 1 : newline;
}

/** The `- ` before a block list item (copied as written), and the column of its content. */
function itemPrefix(text: string, item: unknown, list: YAMLSeq): { dash: string; content: number } {
  const start = rangeOf(item)[0];
  const before = text.slice(text.lastIndexOf('\n', start - 1) + 1, start);
  if (/^ *-[ \t]+$/.test(before)) return { dash: before, content: before.length };
  const column = columnOf(text, rangeOf(list)[0]);
  return { dash: `${' '.repeat(column)}- `, content: column + 2 };
}

function eolOf(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n';
}

function withFinalNewline(text: string): string {
  return text.endsWith('\n') ? text : text + eolOf(text);
}

/**
 * Block YAML lines for value, at column 0. YAML 1.1 quoting, as kubectl reads 1.1 (`"on"`, `"yes"`); no line
 * folding (a folded certificate would still parse, but differently from what kubectl writes); no anchors.
 */
function renderBlock(value: unknown, indentSeq: boolean): string[] {
  return stringify(value, { version: '1.1', lineWidth: 0, indentSeq, aliasDuplicateObjects: false }).replace(/\n$/, '').split('\n');
}

/**
 * A string as one scalar for the place of an existing one. In a flow collection a plain scalar must not
 * hold flow indicators; a JSON kubeconfig gets JSON, so that it stays JSON. undefined: it needs several lines.
 */
function inlineScalar(value: string, flow: boolean, json: boolean): string | undefined {
  if (json) return JSON.stringify(value);
  const lines = renderBlock(value, false);
  const [line] = lines;
  if (lines.length !== 1 || line === undefined) return undefined;
  return flow && !/^["']/.test(line) && /[,[\]{}]/.test(line) ? JSON.stringify(value) : line;
}

/** Our keys (users, contexts, context, user, cluster) are plain words: quoted only in a JSON file. */
function flowKey(key: string, json: boolean): string {
  return json ? JSON.stringify(key) : key;
}

/** JSON is YAML flow syntax, so collections are written as JSON inside flow collections. */
function flowValue(value: unknown, json: boolean): string {
  return (typeof value === 'string' ? inlineScalar(value, true, json) : undefined) ?? JSON.stringify(value);
}

/** A kubeconfig whose top level is a flow map is JSON (kubectl accepts both); what we add is JSON then. */
function isJsonStyle(text: string): boolean {
  return topMap(text).flow === true;
}

/** Prefixes the first line and the other non-empty lines (empty lines stay empty: block scalars). */
function indent(lines: string[], first: string, rest: string, eol: string): string {
  return lines.map((line, index) => (index === 0 ? first + line : line === '' ? line : rest + line)).join(eol);
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

function describe(node: unknown): string {
  if (isSeq(node)) return 'a list';
  if (isMap(node)) return 'a map';
  if (isScalar(node)) return `the scalar ${JSON.stringify(node.value)}`;
  return 'an alias';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function replaceOrAppend(list: unknown[], index: number | undefined, value: unknown): unknown[] {
  return index === undefined ? [...list, value] : list.map((item, i) => (i === index ? value : item));
}

// ---- the file ----

/** The path itself, or where its symlinks lead; a dangling link leads to the file it would create. */
function resolveSymlinks(path: string): string {
  try {
    return realpathSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(`could not resolve ${path}`, error);
  }
  let current = path;
  for (let hops = 0; hops < 40; hops++) {
    let link: string;
    try {
      if (!lstatSync(current).isSymbolicLink()) return current;
      link = readlinkSync(current);
    } catch {
      return current;
    }
    current = resolve(dirname(current), link);
  }
  throw new PluginError('ERR_KUBECONFIG', `too many levels of symbolic links at ${path}`);
}

async function withKubeconfigLocks<T>(files: string[], waitMs: number, work: () => T): Promise<T> {
  const releases: Array<() => Promise<void>> = [];
  try {
    for (const file of files) {
      const lockPath = `${file}.lock`;
      try {
        releases.push(
          await lockfile.lock(file, {
            realpath: false,
            lockfilePath: lockPath,
            stale: LOCK_STALE_MS,
            retries: { retries: 20, forever: true, factor: 1.2, minTimeout: 25, maxTimeout: 250, randomize: true, maxRetryTime: waitMs },
            // Held for milliseconds; the default handler would throw from a timer.
            onCompromised: () => {},
          }),
        );
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // ENOTDIR: kubectl's lock is a plain file, which proper-lockfile cannot remove even when it looks stale.
        if (code === 'ELOCKED' || code === 'ENOTDIR') {
          throw new PluginError('ERR_LOCK', `${file} is locked by another program (${lockPath} exists); gave up after ${Math.round(waitMs / 100) / 10} s`, {
            hint: `if no kubectl is running, remove ${lockPath}`,
            cause: error,
          });
        }
        throw ioError(`could not lock ${file}`, error);
      }
    }
    return work();
  } finally {
    for (const release of releases.reverse()) await release().catch(() => {});
  }
}

function readExisting(path: string): { bytes: Buffer; stats: Stats } | undefined {
  try {
    return { bytes: readFileSync(path), stats: statSync(path) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError(`could not read ${path}`, error);
  }
}

function decodeUtf8(bytes: Buffer, path: string): string {
  const text = bytes.toString('utf8');
  // Decoding would replace invalid bytes, and writing back would then change entries we do not touch.
  if (!Buffer.from(text, 'utf8').equals(bytes)) {
    throw new PluginError('ERR_KUBECONFIG', `${path} is not UTF-8 text`, { hint: 'write to another file with --write-kubeconfig=PATH' });
  }
  return text;
}

/** `<file>.bak`, or the first free `<file>.bak.N`: an earlier backup is never overwritten. Mode 0600. */
function writeBackup(path: string, bytes: Buffer): string {
  for (let n = 0; ; n++) {
    const backup = n === 0 ? `${path}.bak` : `${path}.bak.${n}`;
    try {
      createFileExclusively(backup, bytes);
      return backup;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || n >= 1000) throw error;
    }
  }
}

function ioError(message: string, error: unknown): PluginError {
  if (error instanceof PluginError) return error;
  return new PluginError('ERR_KUBECONFIG', `${message}: ${(error as Error).message}`, { cause: error });
}
