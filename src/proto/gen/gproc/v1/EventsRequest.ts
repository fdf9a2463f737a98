// Original file: src/proto/gproc.proto


export interface EventsRequest {
}

export interface EventsRequest__Output {
}
