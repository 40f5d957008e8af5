// Fault-schedule testing: the pieces a multi-node harness reuses (history,
// checker, nemesis, workload, seeded random) and the one-machine cluster
// schedule built from them. See README.md.
export { History, type Operation, type Outcome, type Session, type FaultRecord, type Observation } from "./history.ts";
export { check, type Anomaly, type CheckOptions, type Model, type StoredEvent, type StoredObject, type StoredState } from "./checker.ts";
export { Nemesis, type Fault, type FaultContext, type NemesisOptions } from "./nemesis.ts";
export { Random } from "./random.ts";
export { Workload, subjectModel, type WorkloadOptions } from "./workload.ts";
export { httpCall, DeadlineExceeded, type HttpReply } from "./http-call.ts";
export { BINDING, subjectSource, writeSubjectProject, writeSubjectCode, type SubjectCode } from "./subject-worker.ts";
export { readStoredState } from "./stored-state.ts";
export { childrenOf, isAlive, killIfAlive, processId, type ProcessId } from "./processes.ts";
export { TorporCluster, type TorporClusterOptions } from "./torpor-cluster.ts";
export { torporFaults, type TorporFaultOptions } from "./torpor-faults.ts";
export { runSchedule, SCHEDULE_ARGS, type ScheduleOptions, type ScheduleResult } from "./schedule.ts";
