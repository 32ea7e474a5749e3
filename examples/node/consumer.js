// A consumer of segment membership changes: it acts on every join and
// leave exactly once, across its own restarts.
//
//   node consumer.js            (connection from the PG* environment variables)
//
// It LISTENs on the channel "segments" to know when to read, and reads
// segments.changes() from the cursor it stored with its last results.  The
// "action" here is writing the change into the table consumer_processed;
// an application would send the welcome email, start or stop a campaign.
// The action and the new cursor are committed together, so a consumer
// killed at any moment neither loses nor repeats a change: on restart it
// reads again from the cursor of its last committed batch.
//
// Environment: CONSUMER_NAME (default "example"), BATCH (default 500),
// POLL_MS (default 2000): read at least this often, as a prepared
// transaction commits without notifying.

'use strict';

const { Client } = require('pg');

const name = process.env.CONSUMER_NAME || 'example';
const batchSize = Number(process.env.BATCH || 500);
const pollMs = Number(process.env.POLL_MS || 2000);

const setupSql = `
  CREATE TABLE IF NOT EXISTS consumer_state (name text PRIMARY KEY, cursor text);
  CREATE TABLE IF NOT EXISTS consumer_processed (
    consumer text NOT NULL, cursor text NOT NULL, segment_id bigint NOT NULL,
    contact text NOT NULL, joined boolean NOT NULL, cause text NOT NULL)`;

// Process one batch in one transaction; returns how many changes it had.
async function drainOnce(db) {
  await db.query('BEGIN');
  try {
    // FOR UPDATE: a second instance of this consumer waits, never interleaves
    const state = await db.query(
      'SELECT cursor FROM consumer_state WHERE name = $1 FOR UPDATE', [name]);
    const after = state.rows.length ? state.rows[0].cursor : null;
    const changes = await db.query(
      'SELECT cursor, segment_id, contact, joined, cause FROM segments.changes($1, $2)',
      [after, batchSize]);
    for (const c of changes.rows) {
      await act(db, c);
    }
    if (changes.rows.length > 0) {
      const last = changes.rows[changes.rows.length - 1].cursor;
      await db.query(
        `INSERT INTO consumer_state (name, cursor) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET cursor = EXCLUDED.cursor`, [name, last]);
    }
    await db.query('COMMIT');
    return changes.rows.length;
  } catch (err) {
    await db.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

// The action taken for one change.
async function act(db, change) {
  await db.query(
    `INSERT INTO consumer_processed (consumer, cursor, segment_id, contact, joined, cause)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [name, change.cursor, change.segment_id, change.contact, change.joined, change.cause]);
}

async function main() {
  const db = new Client();
  const listener = new Client();
  await db.connect();
  await listener.connect();
  await db.query(setupSql);

  let draining = false;
  let again = false;
  const drain = async () => {
    if (draining) { again = true; return; }
    draining = true;
    try {
      do {
        again = false;
        while (await drainOnce(db) === batchSize) { /* a full batch: more may follow */ }
      } while (again);
    } finally {
      draining = false;
    }
  };
  const fail = (err) => { console.error(`consumer ${name}: ${err.message}`); process.exit(1); };

  listener.on('notification', () => drain().catch(fail));
  await listener.query('LISTEN segments');
  await drain();
  const timer = setInterval(() => drain().catch(fail), pollMs);

  const stop = async () => {
    clearInterval(timer);
    while (draining) await new Promise((r) => setTimeout(r, 10));
    await listener.end();
    await db.end();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  console.log(`consumer ${name}: listening`);
}

main().catch((err) => { console.error(`consumer ${name}: ${err.message}`); process.exit(1); });
