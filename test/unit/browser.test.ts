/** How a URL gets opened, decided from plain values: headless Linux, SSH, $BROWSER, WSL, macOS, Windows. */
import { describe, expect, it } from 'vitest';
import { chooseBrowserLauncher, openInBrowser, watchBrowserLaunches, type LaunchRequest } from '../../src/system/browser.js';
import { createLogger } from '../../src/system/log.js';
import { formatDuration, judgeLoginMarker, type LoginMarker } from '../../src/system/login-marker.js';

const URL_ = 'https://idp.example.com/authorize?client_id=kubectl&scope=openid%20email&state=a(b)&x=1';
const request: LaunchRequest = { url: URL_ };
const noFiles = (): boolean => false;
const files =
  (...paths: string[]) =>
  (path: string): boolean =>
    paths.includes(path);

const DESKTOP = { PATH: '/usr/bin:/bin', DISPLAY: ':0' };
const HEADLESS = { PATH: '/usr/bin:/bin' };
const WSL_ENV = { PATH: '/usr/bin:/mnt/c/Windows/System32:/mnt/c/Windows', WSL_DISTRO_NAME: 'Ubuntu' };

describe('chooseBrowserLauncher', () => {
  it('always runs --browser-command as <command> <url>, even headless or over SSH', () => {
    for (const env of [DESKTOP, HEADLESS, { ...HEADLESS, SSH_CONNECTION: '10.0.0.1 5000 10.0.0.2 22', BROWSER: 'w3m' }]) {
      expect(chooseBrowserLauncher('linux', env, noFiles, { url: URL_, browserCommand: '/opt/my browser' })).toEqual({
        kind: 'command',
        argv: ['/opt/my browser', URL_],
        fallbacks: [],
        source: 'browser-command',
      });
    }
  });

  it('uses the open package on a Linux desktop (X11 or Wayland), macOS and Windows', () => {
    expect(chooseBrowserLauncher('linux', DESKTOP, noFiles, request)).toEqual({ kind: 'open-package' });
    expect(chooseBrowserLauncher('linux', { WAYLAND_DISPLAY: 'wayland-0' }, noFiles, request)).toEqual({ kind: 'open-package' });
    expect(chooseBrowserLauncher('freebsd', DESKTOP, noFiles, request)).toEqual({ kind: 'open-package' });
    expect(chooseBrowserLauncher('darwin', {}, noFiles, request)).toEqual({ kind: 'open-package' });
    expect(chooseBrowserLauncher('win32', {}, noFiles, request)).toEqual({ kind: 'open-package' });
  });

  it('opens nothing on Linux or BSD without DISPLAY and WAYLAND_DISPLAY, and says why', () => {
    expect(chooseBrowserLauncher('linux', HEADLESS, noFiles, request)).toEqual({ kind: 'none', reason: 'no DISPLAY or WAYLAND_DISPLAY' });
    expect(chooseBrowserLauncher('linux', { ...HEADLESS, DISPLAY: '', WAYLAND_DISPLAY: '' }, noFiles, request)).toEqual({ kind: 'none', reason: 'no DISPLAY or WAYLAND_DISPLAY' });
    expect(chooseBrowserLauncher('openbsd', HEADLESS, noFiles, request)).toMatchObject({ kind: 'none' });
  });

  it('opens nothing in an SSH session without a forwarded display, on any system', () => {
    for (const ssh of [{ SSH_CONNECTION: '10.0.0.1 5000 10.0.0.2 22' }, { SSH_TTY: '/dev/pts/3' }, { SSH_CLIENT: '10.0.0.1 5000 22' }]) {
      for (const platform of ['linux', 'darwin', 'win32'] as const) {
        const choice = chooseBrowserLauncher(platform, { ...HEADLESS, ...ssh }, noFiles, request);
        expect(choice).toMatchObject({ kind: 'none' });
        expect(choice.kind === 'none' && choice.reason).toMatch(/^SSH session without a forwarded display/);
      }
    }
    // X11 forwarding (ssh -X) sets DISPLAY: xdg-open works through it.
    expect(chooseBrowserLauncher('linux', { ...HEADLESS, SSH_CONNECTION: '1 2 3 4', DISPLAY: 'localhost:10.0' }, noFiles, request)).toEqual({ kind: 'open-package' });
  });

  describe('$BROWSER', () => {
    it('runs the command with the URL appended, without a shell, before any display check', () => {
      expect(chooseBrowserLauncher('linux', { ...HEADLESS, BROWSER: 'w3m' }, noFiles, request)).toEqual({ kind: 'command', argv: ['w3m', URL_], fallbacks: [], source: 'BROWSER' });
      // VS Code Remote-SSH sets BROWSER to a helper that opens the local browser: it wins over the SSH rule.
      expect(chooseBrowserLauncher('linux', { ...HEADLESS, SSH_CONNECTION: '1 2 3 4', BROWSER: '/home/u/.vscode-server/bin/x/helpers/browser.sh' }, noFiles, request)).toMatchObject({
        kind: 'command',
        argv: ['/home/u/.vscode-server/bin/x/helpers/browser.sh', URL_],
      });
    });

    it('splits a value on white space and replaces %s (and %%) as xdg-open does', () => {
      expect(chooseBrowserLauncher('linux', { BROWSER: 'firefox --new-tab' }, noFiles, request)).toMatchObject({ argv: ['firefox', '--new-tab', URL_] });
      expect(chooseBrowserLauncher('linux', { BROWSER: 'open-it --url=%s --done=100%%' }, noFiles, request)).toMatchObject({ argv: ['open-it', `--url=${URL_}`, '--done=100%'] });
      expect(chooseBrowserLauncher('linux', { BROWSER: '  lynx  ' }, noFiles, request)).toMatchObject({ argv: ['lynx', URL_] });
    });

    it('keeps a path with spaces whole when that file exists', () => {
      const firefox = '/mnt/c/Program Files/Mozilla Firefox/firefox.exe';
      expect(chooseBrowserLauncher('linux', { BROWSER: firefox }, files(firefox), request)).toMatchObject({ argv: [firefox, URL_] });
    });

    it('tries a :-separated list in order (; on Windows), skipping empty items', () => {
      expect(chooseBrowserLauncher('linux', { BROWSER: 'xdg-open::w3m %s:lynx' }, noFiles, request)).toEqual({
        kind: 'command',
        argv: ['xdg-open', URL_],
        fallbacks: [
          ['w3m', URL_],
          ['lynx', URL_],
        ],
        source: 'BROWSER',
      });
      expect(chooseBrowserLauncher('win32', { BROWSER: 'C:\\Tools\\a.exe;b.exe' }, noFiles, request)).toMatchObject({ argv: ['C:\\Tools\\a.exe', URL_], fallbacks: [['b.exe', URL_]] });
    });

    it('is ignored when empty or only separators', () => {
      expect(chooseBrowserLauncher('linux', { ...DESKTOP, BROWSER: '' }, noFiles, request)).toEqual({ kind: 'open-package' });
      expect(chooseBrowserLauncher('linux', { ...HEADLESS, BROWSER: ' : ' }, noFiles, request)).toMatchObject({ kind: 'none' });
    });
  });

  describe('WSL', () => {
    const cmd = '/mnt/c/Windows/System32/cmd.exe';
    const powershell = '/mnt/c/Windows/System32/WindowsPowerShell/v1.0/powershell.exe';
    const explorer = '/mnt/c/Windows/explorer.exe';

    it('is detected by the WSLInterop binfmt entry, WSL_DISTRO_NAME, WSL_INTEROP or /proc/version', () => {
      const detections: Array<[Record<string, string>, (path: string) => boolean, string | undefined]> = [
        [HEADLESS, files('/proc/sys/fs/binfmt_misc/WSLInterop', cmd), undefined],
        [HEADLESS, files('/proc/sys/fs/binfmt_misc/WSLInterop-late', cmd), undefined],
        [{ ...HEADLESS, WSL_DISTRO_NAME: 'Ubuntu' }, files(cmd), undefined],
        [{ ...HEADLESS, WSL_INTEROP: '/run/WSL/8_interop' }, files(cmd), undefined],
        [HEADLESS, files(cmd), 'Linux version 5.15.167.4-microsoft-standard-WSL2 (root@f9c826d3017f) (gcc (GCC) 11.2.0)'],
        [HEADLESS, files(cmd), 'Linux version 4.4.0-19041-Microsoft (Microsoft@Microsoft.com) (gcc version 5.4.0 (GCC) )'],
      ];
      for (const [env, fileExists, procVersion] of detections) {
        expect(chooseBrowserLauncher('linux', env, fileExists, { url: URL_, procVersion })).toMatchObject({ kind: 'command', source: 'wsl', argv: [cmd, '/d', '/c', 'start', '', expect.any(String)] });
      }
      expect(chooseBrowserLauncher('linux', HEADLESS, files(cmd), { url: URL_, procVersion: 'Linux version 6.8.0-45-generic (buildd@lcy02-amd64-075)' })).toMatchObject({ kind: 'none' });
    });

    it('prefers wslview on PATH, then cmd.exe, powershell.exe and explorer.exe as fallbacks, found on PATH', () => {
      const onPath = files('/usr/bin/wslview', cmd, powershell.replace('/WindowsPowerShell/v1.0', ''), explorer);
      const env = { ...WSL_ENV, PATH: `${WSL_ENV.PATH}:/mnt/c/Windows/System32/` };
      const choice = chooseBrowserLauncher('linux', env, onPath, request);
      expect(choice).toEqual({
        kind: 'command',
        argv: ['/usr/bin/wslview', URL_],
        fallbacks: [
          [cmd, '/d', '/c', 'start', '', 'https://idp.example.com/authorize?client_id=kubectl^&scope=openid%20email^&state=a^(b^)^&x=1'],
          ['/mnt/c/Windows/System32/powershell.exe', '-NoProfile', '-NonInteractive', '-Command', `Start-Process '${URL_}'`],
          [explorer, URL_],
        ],
        source: 'wsl',
      });
    });

    it('finds the Windows tools at their usual place when the Windows PATH is not appended', () => {
      const choice = chooseBrowserLauncher('linux', { PATH: '/usr/bin', WSL_DISTRO_NAME: 'Debian' }, files(cmd, powershell, explorer), request);
      expect(choice).toMatchObject({ kind: 'command', source: 'wsl', argv: [cmd, '/d', '/c', 'start', '', expect.any(String)] });
      expect(choice.kind === 'command' && choice.fallbacks.map((argv) => argv[0])).toEqual([powershell, explorer]);
    });

    it('escapes what cmd.exe and PowerShell would interpret, after normalising the URL', () => {
      const url = "https://idp.example.com/it's a/b?x=<y>&q=1|^";
      const choice = chooseBrowserLauncher('linux', WSL_ENV, files(cmd, powershell), { url });
      const href = new URL(url).href;
      expect(href).not.toMatch(/[ <>]/);
      expect(choice).toMatchObject({ argv: [cmd, '/d', '/c', 'start', '', href.replace(/[&|^]/g, '^$&')] });
      expect(choice.kind === 'command' && choice.fallbacks[0]).toEqual([powershell, '-NoProfile', '-NonInteractive', '-Command', `Start-Process '${href.replaceAll("'", "''")}'`]);
      expect(choice.kind === 'command' && choice.fallbacks[0]?.[4]).toContain("/it''s%20a/b?");
    });

    it('honours $BROWSER and --browser-command over the Windows browser', () => {
      expect(chooseBrowserLauncher('linux', { ...WSL_ENV, BROWSER: 'wslview' }, files(cmd), request)).toMatchObject({ source: 'BROWSER', argv: ['wslview', URL_] });
      expect(chooseBrowserLauncher('linux', WSL_ENV, files(cmd), { url: URL_, browserCommand: 'b' })).toMatchObject({ source: 'browser-command' });
    });

    it('uses the Windows browser even when WSLg sets DISPLAY; over SSH without a display, opens nothing', () => {
      expect(chooseBrowserLauncher('linux', { ...WSL_ENV, DISPLAY: ':0', WAYLAND_DISPLAY: 'wayland-0' }, files(cmd), request)).toMatchObject({ source: 'wsl' });
      expect(chooseBrowserLauncher('linux', { ...WSL_ENV, SSH_CONNECTION: '1 2 3 4' }, files(cmd), request)).toMatchObject({ kind: 'none' });
    });

    it('falls back to the Linux rules when no Windows tool is reachable (a container on a WSL kernel)', () => {
      const procVersion = 'Linux version 5.15.153.1-microsoft-standard-WSL2';
      expect(chooseBrowserLauncher('linux', HEADLESS, noFiles, { url: URL_, procVersion })).toEqual({ kind: 'none', reason: 'no DISPLAY or WAYLAND_DISPLAY' });
      expect(chooseBrowserLauncher('linux', DESKTOP, noFiles, { url: URL_, procVersion })).toEqual({ kind: 'open-package' });
    });

    it('is a Linux matter only', () => {
      expect(chooseBrowserLauncher('darwin', { WSL_DISTRO_NAME: 'x' }, files(cmd), request)).toEqual({ kind: 'open-package' });
    });
  });
});

describe('judgeLoginMarker (the browser-tab flood guard)', () => {
  const NOW = Date.parse('2026-06-01T12:00:00Z');
  const at = (secondsAgo: number): string => new Date(NOW - secondsAgo * 1000).toISOString();
  const marker = (fields: Partial<LoginMarker>): LoginMarker => ({ pid: 4242, startedAt: at(12), outcome: 'timed-out', endedAt: at(2), issuer: 'https://i', clientId: 'c', ...fields });
  const options = { nowMs: NOW, cooldownSec: 60, timeoutSec: 180, isRunning: () => false, selfPid: 1 };

  it('blocks for the cool-down counted from the end of the failed login, and says so', () => {
    expect(judgeLoginMarker(marker({}), options)).toEqual({
      block: true,
      message: 'a browser login for this provider was started 12 s ago and did not complete (timed out); not opening another browser tab for 58 s',
      waitSec: 58,
    });
    // A 180 s timeout does not eat the cool-down.
    expect(judgeLoginMarker(marker({ startedAt: at(200), endedAt: at(20) }), options)).toMatchObject({ block: true, waitSec: 40 });
  });

  it('names interruptions and errors', () => {
    expect(judgeLoginMarker(marker({ outcome: 'interrupted' }), options)).toMatchObject({ message: expect.stringContaining('did not complete (interrupted)') });
    expect(judgeLoginMarker(marker({ outcome: 'failed', reason: 'authorization error from the provider: access_denied' }), options)).toMatchObject({
      message: expect.stringContaining('did not complete (authorization error from the provider: access_denied)'),
    });
  });

  it('lets a browser open after the cool-down, or when the cool-down is 0', () => {
    expect(judgeLoginMarker(marker({ endedAt: at(61) }), options)).toEqual({ block: false });
    expect(judgeLoginMarker(marker({}), { ...options, cooldownSec: 0 })).toEqual({ block: false });
  });

  it('counts from the start for a process killed before it recorded an outcome', () => {
    expect(judgeLoginMarker(marker({ outcome: 'in-progress', endedAt: undefined, startedAt: at(30) }), options)).toMatchObject({
      block: true,
      waitSec: 30,
      message: expect.stringContaining('its process ended without finishing it'),
    });
    expect(judgeLoginMarker(marker({ outcome: 'in-progress', endedAt: undefined, startedAt: at(90) }), options)).toEqual({ block: false });
  });

  it('blocks while another live process waits for its login, until the authentication timeout', () => {
    const running = { ...options, isRunning: (pid: number) => pid === 4242 };
    expect(judgeLoginMarker(marker({ outcome: 'in-progress', endedAt: undefined }), running)).toEqual({
      block: true,
      message: 'a browser login for this provider was started 12 s ago by process 4242, which is still waiting for it; not opening another browser tab',
      waitSec: undefined,
    });
    // Started longer ago than the timeout: that pid is some other process now; the cool-down ran out too.
    expect(judgeLoginMarker(marker({ outcome: 'in-progress', endedAt: undefined, startedAt: at(181) }), running)).toEqual({ block: false });
    // Its own marker never blocks a process.
    expect(judgeLoginMarker(marker({ outcome: 'in-progress', endedAt: undefined, startedAt: at(70) }), { ...running, selfPid: 4242 })).toEqual({ block: false });
  });

  it('never waits longer than the cool-down when the clock was set back', () => {
    expect(judgeLoginMarker(marker({ startedAt: new Date(NOW + 3_600_000).toISOString(), endedAt: new Date(NOW + 3_600_000).toISOString() }), options)).toMatchObject({ block: true, waitSec: 60 });
  });

  it('formats durations in seconds, then minutes', () => {
    expect([formatDuration(0), formatDuration(400), formatDuration(12_000), formatDuration(119_500), formatDuration(180_000), formatDuration(185_000)]).toEqual(['0 s', '1 s', '12 s', '2 min', '3 min', '3 min 5 s']);
  });
});

describe('watchBrowserLaunches', () => {
  it('tells each login only of the browser it opens itself, with two logins at once in one process (the programmatic API)', async () => {
    const log = createLogger(0, () => undefined);
    const heard: Record<string, string[]> = { first: [], second: [] };
    // Each "login" waits, so that the two interleave, then opens its URL with a browser command that does nothing.
    const login = (name: string, delayMs: number) =>
      watchBrowserLaunches(
        (url) => heard[name]?.push(url),
        async () => {
          await new Promise((resolve) => setTimeout(resolve, delayMs));
          await openInBrowser(`http://127.0.0.1:1/${name}`, { command: '/bin/true', log });
          await new Promise((resolve) => setTimeout(resolve, 30));
        },
      );
    await Promise.all([login('first', 20), login('second', 0)]);
    expect(heard).toEqual({ first: ['http://127.0.0.1:1/first'], second: ['http://127.0.0.1:1/second'] });
    // Outside any watched login, nobody hears of it.
    await openInBrowser('http://127.0.0.1:1/unwatched', { command: '/bin/true', log });
    expect(heard).toEqual({ first: ['http://127.0.0.1:1/first'], second: ['http://127.0.0.1:1/second'] });
  });
});
