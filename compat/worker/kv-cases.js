// ctx.storage's key-value API: every method, its options and its errors,
// run in order on one fresh object (GET /room/<name>/kv).
import { runCases } from "./capture.js";

const keys = (n, prefix = "k") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const entries = (n) => Object.fromEntries(keys(n, "e").map((k, i) => [k, i]));

export function kvCases(storage) {
  const s = storage;
  return runCases([
    // put / get / delete, one key
    ["put", () => s.put("a", 1)],
    ["get", () => s.get("a")],
    ["getMissing", () => s.get("missing")],
    ["putStructured", () => s.put("obj", { x: [1, "two"], d: new Date(5), m: new Map([[1, 2]]), s: new Set(["q"]), n: null, big: 10n })],
    ["getStructured", () => s.get("obj")],
    ["putBinary", () => s.put("bin", new Uint8Array([1, 2, 3]))],
    ["getBinary", () => s.get("bin")],
    ["putNull", () => s.put("null", null)],
    ["getNull", () => s.get("null")],
    ["putUndefined", () => s.put("u", undefined)],
    ["putNoValue", () => s.put("u")],
    ["getAfterPutUndefined", () => s.get("u")],
    ["putFunction", () => s.put("f", () => 1)],
    ["putSymbol", () => s.put("f", Symbol("s"))],
    ["putObjectWithFunction", () => s.put("f", { fn() {} })],
    ["getAfterFailedPuts", () => s.get("f")],
    ["deleteOne", () => s.delete("a")],
    ["deleteMissing", () => s.delete("a")],
    // keys
    ["putNumberKey", () => s.put(1, "one")],
    ["getStringOfNumberKey", () => s.get("1")],
    ["getNumberKey", () => s.get(1)],
    ["putObjectKey", () => s.put({ toString: () => "objkey" }, "v")],
    ["putEmptyKey", () => s.put("", "empty")],
    ["getEmptyKey", () => s.get("")],
    ["putKey2048", () => s.put("k".repeat(2048), 1)],
    // values
    ["putValue1MiB", () => s.put("big", "x".repeat(1024 * 1024))],
    ["getValue1MiBLength", async () => (await s.get("big")).length],
    // several keys
    ["putEntries", () => s.put({ b: 2, c: 3 })],
    ["putEntriesWithUndefined", () => s.put({ d: undefined, d2: 4 })],
    ["getAfterEntriesWithUndefined", () => s.get(["d", "d2"])],
    ["putEntriesWithOptions", () => s.put({ g: 7 }, { allowUnconfirmed: true })],
    ["putEntriesBadOptions", () => s.put({ h: 8 }, 5)],
    ["putEntriesEmpty", () => s.put({})],
    ["getMany", () => s.get(["c", "b", "missing", "b"])],
    ["getManyEmpty", () => s.get([])],
    ["getManyNonString", () => s.get(["b", 2])],
    ["deleteMany", () => s.delete(["b", "c", "missing", "b"])],
    ["deleteManyEmpty", () => s.delete([])],
    // options that only tune caching are accepted
    ["getOptions", () => s.get("g", { allowConcurrency: true, noCache: true })],
    ["putOptions", () => s.put("o", 1, { allowConcurrency: true, allowUnconfirmed: true, noCache: true })],
    ["deleteOptions", () => s.delete("o", { allowUnconfirmed: true })],
    ["getBadOptions", () => s.get("g", 5)],
    // list
    ["seedList", () => s.put({ "l:a": 1, "l:b": 2, "l:c": 3, "l:d": 4, "m:a": 5, "l:\u00e9": 6 })],
    ["listAll", () => s.list()],
    ["listPrefix", () => s.list({ prefix: "l:" })],
    ["listPrefixEmpty", () => s.list({ prefix: "" })],
    ["listStart", () => s.list({ prefix: "l:", start: "l:b" })],
    ["listStartAfter", () => s.list({ prefix: "l:", startAfter: "l:b" })],
    ["listEnd", () => s.list({ prefix: "l:", end: "l:c" })],
    ["listStartEnd", () => s.list({ start: "l:b", end: "l:d" })],
    ["listEndBeforeStart", () => s.list({ start: "l:d", end: "l:b" })],
    ["listStartOutsidePrefix", () => s.list({ prefix: "l:", start: "m" })],
    ["listReverse", () => s.list({ prefix: "l:", reverse: true })],
    ["listReverseLimit", () => s.list({ prefix: "l:", reverse: true, limit: 2 })],
    ["listLimit", () => s.list({ prefix: "l:", limit: 2 })],
    ["listLimitString", () => s.list({ prefix: "l:", limit: "2" })],
    ["listLimitFraction", () => s.list({ prefix: "l:", limit: 1.5 })],
    ["listLimit0", () => s.list({ limit: 0 })],
    ["listLimitNegative", () => s.list({ limit: -1 })],
    ["listStartAndStartAfter", () => s.list({ start: "a", startAfter: "b" })],
    ["listNumberPrefix", () => s.list({ prefix: 5 })],
    ["listReverseString", () => s.list({ prefix: "l:", reverse: "yes" })],
    ["listNotObject", () => s.list(5)],
    ["listNull", () => s.list(null)],
    ["listOptions", () => s.list({ prefix: "m:", allowConcurrency: true, noCache: true })],
    // transactions
    [
      "txnCommit",
      () =>
        s.transaction(async (txn) => {
          await txn.put("t1", 1);
          return txn.get("t1");
        }),
    ],
    ["getT1", () => s.get("t1")],
    [
      "txnRollback",
      () =>
        s.transaction(async (txn) => {
          await txn.put("t2", 2);
          txn.rollback();
          return "rolled back";
        }),
    ],
    ["getT2", () => s.get("t2")],
    [
      "txnThrows",
      () =>
        s.transaction(async (txn) => {
          await txn.put("t3", 3);
          throw new RangeError("inside");
        }),
    ],
    ["getT3", () => s.get("t3")],
    [
      "txnPutAfterRollback",
      () =>
        s.transaction(async (txn) => {
          txn.rollback();
          await txn.put("t4", 4);
        }),
    ],
    [
      "txnGetAfterRollback",
      () =>
        s.transaction(async (txn) => {
          txn.rollback();
          return txn.get("t1");
        }),
    ],
    [
      "txnRollbackTwice",
      () =>
        s.transaction(async (txn) => {
          txn.rollback();
          txn.rollback();
        }),
    ],
    ["txnDeleteAll", () => s.transaction(async (txn) => txn.deleteAll())],
    ["txnMethods", () => s.transaction(async (txn) => Object.getOwnPropertyNames(Object.getPrototypeOf(txn)).sort())],
    [
      "txnList",
      () =>
        s.transaction(async (txn) => {
          await txn.put({ "tl:1": 1, "tl:2": 2 });
          await txn.delete("tl:1");
          return txn.list({ prefix: "tl:" });
        }),
    ],
    [
      "txnNested",
      () =>
        s.transaction(async (outer) => {
          await outer.put("n1", 1);
          return s.transaction(async (inner) => {
            await inner.put("n2", 2);
            return [await inner.get("n1"), await inner.get("n2")];
          });
        }),
    ],
    ["txnNotFunction", () => s.transaction(5)],
    ["txnReturnsValue", () => s.transaction(() => 42)],
    [
      "txnUsedAfterCommit",
      async () => {
        let kept;
        await s.transaction(async (txn) => {
          kept = txn;
        });
        return kept.get("t1");
      },
    ],
    [
      "txnRollbackAfterCommit",
      async () => {
        let kept;
        await s.transaction(async (txn) => {
          kept = txn;
        });
        return kept.rollback();
      },
    ],
    [
      "txnSyncCommit",
      () =>
        s.transactionSync(() => {
          s.kv.put("ts1", 1);
          return s.kv.get("ts1");
        }),
    ],
    [
      "txnSyncThrows",
      () =>
        s.transactionSync(() => {
          s.kv.put("ts2", 2);
          throw new TypeError("sync inside");
        }),
    ],
    ["getTs2", () => s.get("ts2")],
    [
      "txnSyncNested",
      () =>
        s.transactionSync(() => {
          s.kv.put("ts3", 3);
          try {
            s.transactionSync(() => {
              s.kv.put("ts4", 4);
              throw new Error("inner");
            });
          } catch {}
          return [s.kv.get("ts3"), s.kv.get("ts4")];
        }),
    ],
    ["txnSyncNotFunction", () => s.transactionSync(5)],
    ["sync", () => s.sync()],
    // the synchronous KV API
    ["kvPut", () => s.kv.put("kv:1", { a: 1 })],
    ["kvGet", () => s.kv.get("kv:1")],
    ["kvGetMissing", () => s.kv.get("kv:missing")],
    ["kvPutUndefined", () => s.kv.put("kv:u", undefined)],
    ["kvPutFunction", () => s.kv.put("kv:f", () => 1)],
    ["kvList", () => [...s.kv.list({ prefix: "kv:" })]],
    ["kvListReverseLimit", () => [...s.kv.list({ prefix: "l:", reverse: true, limit: 1 })]],
    ["kvListStartAndStartAfter", () => s.kv.list({ start: "a", startAfter: "b" })],
    ["kvListLimit0", () => s.kv.list({ limit: 0 })],
    ["kvDelete", () => s.kv.delete("kv:1")],
    ["kvDeleteMissing", () => s.kv.delete("kv:1")],
    // alarms (the probe class has an alarm() handler)
    ["getAlarmNone", () => s.getAlarm()],
    ["setAlarmString", () => s.setAlarm("soon")],
    [
      "setAlarmNumericString",
      () =>
        s
          .setAlarm(String(Date.now() + 3_600_000))
          .then(() => s.getAlarm())
          .then((t) => typeof t),
    ],
    ["setAlarmZero", () => s.setAlarm(0)],
    ["setAlarmNegative", () => s.setAlarm(-1)],
    ["setAlarmNaN", () => s.setAlarm(NaN)],
    ["setAlarmInvalidDate", () => s.setAlarm(new Date(NaN))],
    ["setAlarmNothing", () => s.setAlarm()],
    ["setAlarmObject", () => s.setAlarm({})],
    ["setAlarmDate", () => s.setAlarm(new Date(Date.UTC(2100, 0, 1)))],
    ["getAlarmAfterSet", () => s.getAlarm()],
    ["setAlarmNumber", () => s.setAlarm(Date.UTC(2100, 0, 2))],
    ["getAlarmAfterNumber", () => s.getAlarm()],
    ["setAlarmFraction", () => s.setAlarm(Date.UTC(2100, 0, 3) + 0.7).then(() => s.getAlarm())],
    ["getAlarmOptions", () => s.getAlarm({ allowConcurrency: true })],
    ["getAlarmBadOptions", () => s.getAlarm(5)],
    [
      "setAlarmPastIsNow",
      async () => {
        const before = Date.now();
        await s.setAlarm(1);
        const t = await s.getAlarm();
        await s.deleteAlarm();
        return t >= before && t <= Date.now();
      },
    ],
    ["deleteAlarm", () => s.deleteAlarm()],
    ["getAlarmAfterDelete", () => s.getAlarm()],
    ["deleteAlarmAgain", () => s.deleteAlarm()],
    [
      "txnAlarm",
      () =>
        s.transaction(async (txn) => {
          await txn.setAlarm(Date.UTC(2100, 0, 4));
          const t = await txn.getAlarm();
          await txn.deleteAlarm();
          return [t, await txn.getAlarm()];
        }),
    ],
    ["setAlarmBeforeDeleteAll", () => s.setAlarm(Date.UTC(2100, 0, 5))],
    // Cloudflare's limits (2 KiB keys, 2 MiB key + value, 128 keys per call): Torpor enforces them, local workerd does not
    ["putKey2049", () => s.put("k".repeat(2049), 1)],
    ["getKey2049", () => s.get("k".repeat(2049))],
    ["deleteKey2049", () => s.delete("k".repeat(2049))],
    ["putKey1025TwoByte", () => s.put("é".repeat(1025), 1)],
    ["putValue2MiB", () => s.put("big", "x".repeat(2 * 1024 * 1024))],
    ["get128", () => s.get(keys(128)).then((m) => m.size)],
    ["get129", () => s.get(keys(129))],
    ["put128", () => s.put(entries(128))],
    ["put129", () => s.put(entries(129))],
    ["delete128", () => s.delete(keys(128, "e"))],
    ["delete129", () => s.delete(keys(129, "e"))],
    ["kvPutKey2049", () => s.kv.put("k".repeat(2049), 1)],
    // deleteAll
    ["deleteAll", () => s.deleteAll()],
    ["listAfterDeleteAll", () => s.list()],
    ["getAlarmAfterDeleteAll", () => s.getAlarm()],
    ["deleteAllOptions", () => s.deleteAll({ allowUnconfirmed: true })],
  ]);
}
