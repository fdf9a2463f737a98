// Original file: src/proto/gproc.proto


export interface NodeInfoRequest {
}

export interface NodeInfoRequest__Output {
}
