/** Basic users created the way an operator creates them: through the real CLI. */
import assert from 'node:assert/strict';
import { main } from '../../src/cli/main.js';

const quiet = { stdout: () => {}, stderr: () => {} };

/** Runs `auths users create --config <configPath> <args>` once per argument list; each must exit 0. */
export async function createUsersWithCli(configPath: string, ...argLists: readonly (readonly string[])[]): Promise<void> {
  for (const args of argLists) {
    assert.equal(await main(['auths', 'users', 'create', '--config', configPath, ...args], quiet), 0, `users create ${args[0] ?? ''}`);
  }
}
