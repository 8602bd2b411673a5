// Reads Parquet files with DuckDB (@duckdb/node-api), a C++ reader that
// shares no code with arrow-go and ignores the ARROW:schema, and prints what
// it sees as one JSON object:
//   { "<file>": { "num_rows": N, "columns": [[name, type]...], "key_value": {key: value} } }
// key_value omits ARROW:schema's base64 (it only says it is there).
//
// Usage: node duckdb_dump.mjs <node_modules dir holding @duckdb/node-api> <file.parquet>...
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const [nodeModules, ...files] = process.argv.slice(2)
if (!nodeModules || files.length === 0) {
  console.error('usage: node duckdb_dump.mjs <node_modules> <file.parquet>...')
  process.exit(2)
}
const require = createRequire(path.join(path.resolve(nodeModules), 'resolve-from-here.js'))
const { DuckDBInstance } = await import(pathToFileURL(require.resolve('@duckdb/node-api')).href)

const db = await DuckDBInstance.create(':memory:')
const con = await db.connect()
const quote = (s) => "'" + s.replaceAll("'", "''") + "'"
const rows = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson()

const out = {}
for (const file of files) {
  const f = quote(file)
  const columns = (await rows(`DESCRIBE SELECT * FROM read_parquet(${f})`)).map((r) => [r.column_name, r.column_type])
  const [{ n }] = await rows(`SELECT count(*)::INTEGER AS n FROM read_parquet(${f})`)
  const keyValue = {}
  for (const r of await rows(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(${f})`)) {
    keyValue[r.k] = r.k === 'ARROW:schema' ? '<present>' : r.v
  }
  out[file] = { num_rows: n, columns, key_value: keyValue }
}
console.log(JSON.stringify(out))
