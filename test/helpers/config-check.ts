/** `kestra-authz config check --config FILE` in process: its exit code and everything it printed, one string. */
import { runConfigCheck } from '../../src/cli/config-check-command.js';

export async function configCheckOutput(configPath: string): Promise<{ code: number; text: string }> {
  const out: string[] = [];
  const code = await runConfigCheck(['--config', configPath], { stdout: (t) => out.push(t), stderr: (t) => out.push(t) });
  return { code, text: out.join('\n') };
}
