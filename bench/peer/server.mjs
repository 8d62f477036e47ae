// The benchmark's peer (issue 15): PostGraphile 5 (Amber preset) with
// postgraphile-plugin-connection-filter, on the seed-bench database.
//
//   PEER_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_10k PEER_PORT=18081 \
//     node_modules/node/bin/node server.mjs
//
// bench/run.sh starts it with the Node 22 that this folder's package installs
// (`npm ci` here; the npm package `node` ships the binary). It serves POST
// /graphql on 127.0.0.1:PEER_PORT. The schema is introspected once, at start:
// no watch mode, no GraphiQL (Ruru), no EXPLAIN. It connects as whoever
// PEER_DATABASE_URL names: run.sh uses the superuser `postgres`, which bypasses
// the tenant tables' forced row-level security, so the peer has no tenant
// scoping beyond the `partnerId` filter its queries carry (bench/queries/peer-*).
// The pool holds PEER_POOL_MAX connections [10], as many as the service's pool.
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
import { PostGraphileConnectionFilterPreset } from "postgraphile-plugin-connection-filter";

const connectionString = process.env.PEER_DATABASE_URL;
if (!connectionString) {
  console.error("PEER_DATABASE_URL is not set");
  process.exit(2);
}
const port = Number(process.env.PEER_PORT || 18081);
const poolMax = Number(process.env.PEER_POOL_MAX || 10);

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset, PostGraphileConnectionFilterPreset],
  pgServices: [
    makePgService({
      connectionString,
      schemas: ["public"],
      poolConfig: { max: poolMax },
    }),
  ],
  grafserv: {
    graphqlPath: "/graphql",
    graphiql: false,
    watch: false,
    websockets: false,
  },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.on("error", (e) => {
  console.error(e);
  process.exit(1);
});
await serv.addTo(server);
// Build the schema before listening, so that the first request does not pay
// for the introspection and the bench's readiness check means "ready".
await pgl.getSchema();
server.listen(port, "127.0.0.1", () => {
  console.log(`peer: PostGraphile listening on http://127.0.0.1:${port}/graphql`);
});

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  server.close();
  await pgl.release();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
