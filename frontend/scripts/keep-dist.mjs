// Vite empties dist/ before writing the build; the placeholder that keeps the
// Go embed directive valid in a fresh checkout has to come back afterwards.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

writeFileSync(fileURLToPath(new URL('../dist/.keep', import.meta.url)), '');
