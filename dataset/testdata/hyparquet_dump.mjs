// Reads Parquet files with hyparquet, a pure-JavaScript reader that shares no
// code with arrow-go, and prints what it sees as one JSON object:
//   { "<file>": { num_rows, row_groups, columns, key_value, rows } }
// key_value omits ARROW:schema's base64 (it only says it is there).
//
// Usage: node hyparquet_dump.mjs <node_modules dir holding hyparquet> <file.parquet>...
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const [nodeModules, ...files] = process.argv.slice(2)
if (!nodeModules || files.length === 0) {
  console.error('usage: node hyparquet_dump.mjs <node_modules> <file.parquet>...')
  process.exit(2)
}
// Resolve 'hyparquet' as Node would from that node_modules directory.
const require = createRequire(path.join(path.resolve(nodeModules), 'resolve-from-here.js'))
const { parquetMetadata, parquetReadObjects, parquetSchema } = await import(pathToFileURL(require.resolve('hyparquet')).href)

const out = {}
for (const file of files) {
  const buf = readFileSync(file)
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)
  const md = parquetMetadata(ab)
  const keyValue = {}
  for (const { key, value } of md.key_value_metadata ?? []) {
    keyValue[key] = key === 'ARROW:schema' ? '<present>' : value
  }
  out[file] = {
    num_rows: Number(md.num_rows),
    row_groups: md.row_groups.map(rg => Number(rg.num_rows)),
    columns: parquetSchema(md).children.map(c => c.element.name),
    key_value: keyValue,
    rows: await parquetReadObjects({ file: ab }),
  }
}
console.log(JSON.stringify(out, (_, v) => {
  if (typeof v === 'bigint') return Number(v)
  if (ArrayBuffer.isView(v)) return Array.from(v)
  return v
}))
