// Child process of the lock-file contention test: tries to take the lock, says how it went, and holds it
// until killed.
import { acquireDataDirLock } from '../../src/storage/lock-file.js';

const [dir] = process.argv.slice(2);
try {
  acquireDataDirLock(dir!, 'contender');
  process.stdout.write('got\n');
  setInterval(() => {}, 1000);
} catch (error) {
  process.stdout.write(`refused: ${(error as { code?: string }).code}\n`);
}
