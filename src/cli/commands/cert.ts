import type { Command } from 'commander';
import { ensureDir } from '../../io/index.js';
import type { ActionFactory } from '../action.js';

export function registerCert(program: Command, act: ActionFactory): void {
  const cmd = program.command('cert').description("the API server's TLS certificate");
  cmd
    .command('info')
    .description(
      'print the certificate’s SHA-256 fingerprint (made first if there is none yet), for remotes to pin',
    )
    .action(
      act(async (rt) => {
        await ensureDir(rt.home);
        const { ensureCertificate } = await import('../../server/index.js');
        const cert = await ensureCertificate(rt.home, rt.clock);
        rt.print(
          {
            fingerprint: cert.fingerprint,
            path: cert.certPath,
            'valid-from': cert.validFrom,
            'valid-to': cert.validTo,
          },
          () =>
            `fingerprint ${cert.fingerprint}\npath ${cert.certPath}\nvalid ${cert.validFrom} to ${cert.validTo}`,
        );
      }),
    );
}
