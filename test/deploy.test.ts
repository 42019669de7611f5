/**
 * deploy/cordon.service keeps its user, state directory and hardening, and deploy/, the Dockerfile and
 * docs/ops.md agree on where Cordon is installed. (`systemd-analyze verify`, in .ci/run, checks that
 * systemd loads the unit; this checks that it still says what docs/ops.md promises.)
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** The unit's `Key=value` lines, by section; a key given twice keeps every value, in order. */
function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const sections: Record<string, Record<string, string[]>> = {};
  let section: Record<string, string[]> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = sections[header[1]!] = {};
      continue;
    }
    const at = line.indexOf('=');
    (section[line.slice(0, at)] ??= []).push(line.slice(at + 1));
  }
  return sections;
}

const unit = parseUnit(readFileSync('deploy/cordon.service', 'utf8'));
const service = unit.Service!;
const ENTRY = '/opt/cordon/node_modules/cordon/bin/cordon.js';

describe('deploy/cordon.service', () => {
  it('runs cordon serve as its own user, with its data in its state directory and no demo account', () => {
    expect(service.ExecStart).toEqual([`/usr/bin/node ${ENTRY} serve`]);
    expect(service.User).toEqual(['cordon']);
    expect(service.Group).toEqual(['cordon']);
    expect(service.StateDirectory).toEqual(['cordon']);
    expect(service.StateDirectoryMode).toEqual(['0700']);
    expect(service.Environment).toEqual(['CORDON_DATA_DIR=/var/lib/cordon', 'CORDON_DEMO=false']);
    expect(service.EnvironmentFile).toEqual(['-/etc/cordon/cordon.env']);
    expect(service.RestartPreventExitStatus).toEqual(['78']);
    expect(unit.Install!.WantedBy).toEqual(['multi-user.target']);
    expect(readFileSync('deploy/cordon.sysusers', 'utf8')).toContain('\nu cordon - ');
  });

  it('is hardened, and leaves V8 the writable, executable memory its JIT needs', () => {
    const hardening: Record<string, string[]> = {
      NoNewPrivileges: ['yes'],
      CapabilityBoundingSet: [''],
      AmbientCapabilities: [''],
      ProtectSystem: ['strict'],
      ProtectHome: ['yes'],
      PrivateTmp: ['yes'],
      PrivateDevices: ['yes'],
      ProtectKernelTunables: ['yes'],
      ProtectKernelModules: ['yes'],
      ProtectKernelLogs: ['yes'],
      ProtectControlGroups: ['yes'],
      RestrictAddressFamilies: ['AF_INET AF_INET6 AF_UNIX'],
      RestrictNamespaces: ['yes'],
      RestrictSUIDSGID: ['yes'],
      LockPersonality: ['yes'],
      SystemCallArchitectures: ['native'],
      SystemCallFilter: ['@system-service', '~@privileged'],
      UMask: ['0077'],
    };
    for (const [key, values] of Object.entries(hardening)) expect(service[key], key).toEqual(values);
    expect(service.MemoryDenyWriteExecute).toBeUndefined();
    // The data-directory lock reads /proc/<pid> of whoever holds it.
    expect(service.ProtectProc).toBeUndefined();
  });
});

describe('the Dockerfile and docs/ops.md', () => {
  it('install where the unit runs from, and run the same way', () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    expect(dockerfile).toContain('npm install --prefix /opt/cordon --omit=dev');
    expect(dockerfile).toContain(`ENTRYPOINT ["node", "${ENTRY}"]`);
    expect(dockerfile).toContain('CMD ["node", "/opt/cordon/node_modules/cordon/deploy/healthcheck.js"]');
    expect(dockerfile).toMatch(/^USER cordon$/m);
    expect(dockerfile).toMatch(/^VOLUME \/var\/lib\/cordon$/m);
    expect(dockerfile).toContain('CORDON_DATA_DIR=/var/lib/cordon');
    expect(dockerfile).toContain('CORDON_DEMO=false');
    const ops = readFileSync('docs/ops.md', 'utf8');
    expect(ops).toContain('npm install --prefix /opt/cordon --omit=dev ./cordon-0.1.0.tgz');
    expect(ops).toContain(`/usr/bin/node ${ENTRY} "$@"`);
  });
});
