// After `graphql-codegen`: copy the trusted-document manifest the client
// preset wrote (generated/persisted-documents.json) to
// ../docs/operations/persisted-documents.json, the copy that is committed and
// embedded in the server binary. Byte for byte: the server and the Rust test
// (`src/operations.rs`) read exactly what the preset emits.
import { readFileSync, writeFileSync } from 'node:fs';

const from = new URL('./generated/persisted-documents.json', import.meta.url);
const to = new URL('../docs/operations/persisted-documents.json', import.meta.url);

const manifest = readFileSync(from);
let committed = null;
try {
  committed = readFileSync(to);
} catch {
  // First run: nothing committed yet.
}
if (committed !== null && committed.equals(manifest)) {
  console.log('docs/operations/persisted-documents.json is up to date');
} else {
  writeFileSync(to, manifest);
  const count = Object.keys(JSON.parse(manifest.toString('utf8'))).length;
  console.log(`docs/operations/persisted-documents.json updated (${count} documents): commit it with the operations`);
}
