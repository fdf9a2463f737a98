// Original file: src/proto/gproc.proto


export interface SnapshotRequest {
}

export interface SnapshotRequest__Output {
}
