/**
 * Every default of gproc in one place: paths, deadlines, lifetimes and sizes.
 * Other modules import from here rather than writing numbers of their own.
 */
export const defaults = {
  /** Cluster file used when neither --config nor $GPROC_CONFIG is given (spec section 2). */
  configPath: '/etc/gproc/cluster.json',
  /** Where the cluster file, the CA and the node keys live (spec section 8). */
  configDir: '/etc/gproc',
  /** Default mount point of the cluster view (spec section 3). */
  mountPoint: '/cluster/proc',
  /** Runtime directory for the control mounts and the real-procfs bind (see native-notes/). */
  runDir: '/run/gproc',
  /** Where the fusectl file system is (or is mounted): one directory per FUSE connection, with `abort`. */
  fusectlDir: '/sys/fs/fuse/connections',
  /**
   * Longest a mount or umount command may take when a new mount daemon clears what an
   * earlier one left, in ms: the clearing never waits on the old mounts, so this only
   * bounds a misbehaving command.
   */
  mountCommandMs: 5000,
  /**
   * Longest a mount daemon takes to close its view after SIGINT/SIGTERM/SIGHUP, in ms:
   * two unmounts and the host procfs's umount, each bounded by `mountCommandMs`, fit in it.
   * Past it the daemon leaves anyway (status 1) and the next start clears what is left.
   */
  mountCloseMs: 20000,
  /**
   * How long after `mountCloseMs` a mount daemon whose main thread is stuck in the kernel
   * (so its own timer cannot run) is killed by its watchdog thread (watchdog.ts), in ms.
   */
  stuckCloseKillMs: 2000,
  /** The agent's local Unix socket when the cluster file names none for its node (spec section 2). */
  agentSocket: '/run/gproc/agent.sock',
  /**
   * Where an agent keeps, in <stateDir>/<node name>/processes/, the records of the processes
   * it started and their exit statuses, across its restarts (native-notes/durable-processes.md).
   */
  stateDir: '/var/lib/gproc',
  /** The agent's audit log: one JSON line per signal, spawn, run and refusal (spec section 7). */
  auditLog: '/var/log/gproc/audit.log',
  /** Where `gproc up` on the default mount point keeps its cluster file and pids. */
  upDir: '/run/gproc/up',
  /**
   * How long `gproc up --simulate` (and the tests and benchmarks) wait for a simulated node's
   * namespaces to start, ms: dozens started at once on a loaded machine take seconds.
   */
  namespaceStartMs: 30 * 1000,
  /** First port `gproc up` gives its agents on loopback; node N listens on basePort + N - 1. */
  basePort: 7101,

  /** How long one refresh of the merged process table serves readers, in ms. */
  snapshotLifetimeMs: 1000,
  /**
   * How often an agent reads its process table for its Watch streams (the replicas mounts
   * keep), ms: what a mount lists is at most about this old, plus the kernel's cache.
   */
  watchIntervalMs: 1000,
  /**
   * An agent re-reads every file of a process when its stat changed, and otherwise at least
   * this often (a status line such as a context-switch count or a signal mask can change
   * while stat does not), ms. Spread over the interval so reads do not come in bursts (a
   * process's first re-read comes at a random point of it, the next ones at this interval).
   */
  fullReadMaxAgeMs: 10 * 1000,
  /**
   * The agent's table keeps each process's `stat` open, to read it every second without
   * opening it again: at most this many descriptors, and at most a quarter of the agent's
   * open-file limit (the rest of the processes have their stat opened for each reading).
   */
  tableStatFdsMax: 32 * 1024,
  /**
   * A Watch stream whose reader has this much unsent behind it gets no new message until it
   * drains; what changed meanwhile goes out in one message then (nothing is lost), bytes.
   */
  watchBufferBytes: 8 * 1024 * 1024,
  /** Unanswered requests for an update a Watch stream holds; more are dropped. */
  watchMaxRequests: 64,
  /**
   * How long a mount waits for its replicas to answer a request for an update (after it
   * started a process, or a lookup missed), ms; a node that does not answer in time is
   * served from its replica as it is.
   */
  syncWaitMs: 500,
  /**
   * Fewer processes to read than this are read on the agent's main thread alone (~40 ms
   * here for 400). The steady re-reading of a quiet node (a ninth of its processes a
   * second, table.ts) cost a third more CPU shared with a thread, whose code runs too
   * seldom to be optimized, than on the main thread alone.
   */
  readerThreadMinPids: 400,
  /** Fraction of a table's lifetime after which a use of it starts the next refresh in the background. */
  refreshAheadFraction: 0.85,
  /** A lookup of the view that misses a gpid asks every replica again unless its table did this long ago or less, ms... */
  missRefreshMs: 20,
  /** ...at most once per this long, so a run over vanishing processes costs few refreshes, ms. */
  missRefreshEveryMs: 250,
  /** Size the view reports for a file whose content is not known until its read returns (wait), bytes. */
  unknownSizeBytes: 4096,
  /**
   * How long the mount's event loop keeps polling after a FUSE request, ms (fs/fuse.ts); 0:
   * it does not. Polling made one request ~30 us instead of ~100 us back to back, but in
   * `ps -ef` on this 2-CPU machine under load it slowed cold runs 8-35% and warm ones
   * 1.5-4x: the polling thread takes the CPU that ps and libfuse's thread need
   * (native-notes/performance.md, "The floor of the binding").
   */
  fuseHotMs: 0,
  /**
   * MemTotal, MemFree and MemAvailable of the top-level meminfo while no node answers, kB:
   * not 0, because procps divides by MemTotal (`free`, `ps u`, `top`).
   */
  noNodeMemoryKb: 1,
  /** Smallest top-level uptime, seconds: the file never says 0.00 (tools divide by it). */
  minUptimeSeconds: 0.01,
  /** Kernel entry, attribute and negative-lookup timeouts of the cluster view, in seconds. */
  kernelCacheSeconds: 1,
  /**
   * Bytes added to the size reported for content the kernel does not hold yet (fs/pinned.ts):
   * more than a re-rendering can grow between one reader's getattr and its read.
   */
  pinnedSlackBytes: 4096,
  /** Deadline of every short remote call (snapshot, file, usage, signal, spawn), in ms. */
  rpcDeadlineMs: 1500,
  /**
   * Times a read-only call (snapshot, node info, a process's file or links) is sent in all
   * when its connection drops under it (UNAVAILABLE), within its one deadline.
   */
  readAttempts: 3,
  /** How long `gproc run` waits for the agent to say it started the command, in ms. */
  runStartDeadlineMs: 3000,
  /**
   * Longest output line `gproc run` holds back while it waits for the line's end, when it
   * cuts several nodes' output into whole lines (labels, --nodes), in bytes.
   */
  runMaxLineBytes: 64 * 1024,
  /**
   * Largest message of a run's stdin, stdout or stderr, bytes: what its pipe gives at once
   * (64 KiB a read) is gathered up to this, as one message (within the agent's
   * `limits.requestBytes`).
   */
  runMessageBytes: 1024 * 1024,
  /** How often a node marked down is asked again, in ms. */
  reprobeIntervalMs: 1000,
  /** How often a mount (or `gproc run`) pings each node's heartbeat, ms (native-notes/liveness.md). */
  heartbeatIntervalMs: 200,
  /**
   * A node whose heartbeat is silent this long is down, ms: four missed pings at the interval
   * above. A node that froze is down 0.6-1.0 s after it froze (its last answer came up to one
   * interval before); `nodes/<id>/state` may show it up to the kernel's cache lifetime (1 s)
   * later: within spec 6's 2 s. (At 1000 ms a frozen node read 2052 ms.) An agent that exited
   * is down sooner, at its ICMP refusal (liveness/monitor.ts).
   */
  downAfterMs: 800,
  /** How often an agent's heartbeat thread counts the node's processes, ms. */
  heartbeatCountMs: 1000,
  /**
   * After hanging up a run whose caller went away (SIGHUP to its process group), how long the
   * agent waits before SIGKILL, ms. With the agent's keepalive below, a remote command ends at
   * most about 12 s after its caller vanished, even when the network between them is cut.
   */
  hangupGraceMs: 5000,
  /**
   * gRPC keepalive, in ms: a ping every keepaliveTimeMs, and the connection is dropped when
   * its ack is keepaliveTimeoutMs late. It is what ends long calls (wait, run, events) on a
   * node that went silent (one that died closes its connections at once). The drop ends
   * every call on that connection, so the ack timeout is generous: a process whose event
   * loop is held up for a second on a loaded machine must not lose its calls.
   */
  keepaliveTimeMs: 2000,
  keepaliveTimeoutMs: 5000,
  /**
   * An agent closes a connection that carried no call for this long, in ms. Clients reconnect
   * when they next call; a connection left half-open before its first call (a peer that sent
   * part of an HTTP/2 frame and went away) would otherwise hold a descriptor for ever.
   */
  maxConnectionIdleMs: 60 * 1000,
  /** Largest gRPC message a client accepts, in bytes (a snapshot of 10k processes is ~40 MB). */
  maxMessageBytes: 256 * 1024 * 1024,
  /**
   * Bounds on what one request may carry (spec section 7): an agent refuses larger ones
   * with INVALID_ARGUMENT (or, for a message, RESOURCE_EXHAUSTED) before doing anything.
   * The argv and environment bounds follow Linux's own (ARG_MAX is 2 MiB for both together).
   */
  /** Longest credential token an agent opens, in bytes (claims, certificate, signature). */
  credentialMaxBytes: 8192,
  /**
   * How many hops the view follows from a process group or session that an agent-started
   * process created back to its requester's (runs started from runs, across nodes).
   */
  originMaxHops: 8,
  limits: {
    /** Largest message an agent accepts, bytes (stdin comes in chunks far below it). */
    requestBytes: 4 * 1024 * 1024,
    /** Entries of any repeated field of a request, checked before it is decoded. */
    requestEntries: 4096,
    argvCount: 4096,
    /** argv (or the shell command line) in bytes, NULs included. */
    argvBytes: 1024 * 1024,
    envCount: 4096,
    envBytes: 1024 * 1024,
    /** PATH_MAX. */
    cwdBytes: 4096,
    /** Targets of one signal request (a group signal asks each node once for all its members). */
    signalTargets: 4096,
    /** Audience of one sealed credential. */
    audience: 511,
    /** Open connections of one local uid, of one peer node, of one user of another node. */
    connectionsPerPeer: 64,
    /**
     * Connections from one address that have not yet shown who they are (TLS handshake under
     * way, or no credential yet): shared by every user of that node, so larger.
     */
    unprovenPerAddress: 512,
    /**
     * Calls in progress on one connection (HTTP/2 streams, long calls included). Generous: a
     * mount carries every blocked `wait` read of its users on its one connection per node.
     */
    streamsPerConnection: 1024,
  },
  /** How long a TLS handshake may take before the agent closes the connection, ms. */
  tlsHandshakeTimeoutMs: 5000,
  /** How long a connection without a client certificate may go without showing a valid credential, ms. */
  credentialGraceMs: 5000,
  /** Lifetime of a credential sealed for a user by its node's agent, ms (MUNGE's default TTL is 300 s). */
  credentialLifetimeMs: 5 * 60 * 1000,
  /** Clock skew a credential's issue and expiry times are allowed between nodes, ms. */
  credentialSkewMs: 30 * 1000,

  /** How long an agent keeps the exit status of a process it started, in ms. */
  exitStatusRetentionMs: 10 * 60 * 1000,
  /** How long an exit status stays after it was first read (re-reads of `wait`), in ms. */
  exitStatusAfterReadMs: 60 * 1000,
  /** Most exit statuses one agent holds; the oldest go first. */
  maxHeldExitStatuses: 4096,
  /** Most snapshot reader threads of an agent (one per CPU beyond the first, at most this many). */
  maxReaderThreads: 3,
  /** How long an agent's lookup of a user or group name (getent, for admission rules) may take, ms. */
  accountLookupTimeoutMs: 2000,
  /** How long a stopping agent lets calls in progress finish before it ends them, ms. */
  agentShutdownGraceMs: 1000,
  /** Arguments of a started command that its audit line keeps (the rest are left out). */
  auditCommandArgs: 64,
  /** Bytes of events an agent holds for one stream whose reader does not keep up, before it lets the reader go. */
  eventsBufferBytes: 1024 * 1024,
  /** How often the agent's one poller of /proc (agent/watcher.ts) ticks: `events`, `wait`, supervisors, ms. */
  processPollMs: 200,

  /**
   * How far a node's boot time (btime of /proc/stat, seconds) may move before an open
   * `ctl` or `wait` handle counts its process as gone with the old boot: btime is derived
   * from the clock and moves by a second with adjustments; a reboot moves it far more.
   */
  bootTimeSlackSeconds: 5,
  /**
   * Events the `events` file keeps for readers that fall behind: a reader at most this many
   * events behind loses none; one further behind gets one `<ms> missed <N>` line in their
   * place. The file keeps between this many and twice this many lines (~100 bytes each).
   */
  eventsKeptLines: 10000,
  /** Most bytes of events one open `events` handle holds for its reader at a time (whole lines). */
  eventsHandleBytes: 64 * 1024,

  /** Longest command line the spawn file takes, in characters of the UTF-8-decoded write. */
  spawnLineChars: 64 * 1024,
  /** Longest command a write to ctl may be, bytes ("signal-group SIGVTALRM\n" is 23). */
  ctlCommandBytes: 64,
  /** PATH given to commands started through nodes/<id>/spawn. */
  spawnPath: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  /** HTTP/2 flow-control window of a client's connection, bytes (64 KiB by default: slow for `gproc run` streams). */
  flowControlWindowBytes: 8 * 1024 * 1024,

  /**
   * The Prometheus endpoints of the agent and the mount (spec section 8, src/metrics/). A
   * scrape must send its request within `metricsRequestMs`; at most `metricsConnections`
   * scrapers may be connected at once (more are closed at once).
   */
  metricsRequestMs: 5000,
  metricsConnections: 16,
  /**
   * How often a daemon's event loop delay is sampled for its metrics (prom-client's
   * eventLoopMonitoringPrecision), ms: each sample is a wake-up of an otherwise idle daemon
   * (at prom-client's 10 ms, ~1% of a CPU for an agent here).
   */
  eventLoopSampleMs: 100,
  /** Histogram buckets, seconds: agent RPCs (a stream's whole call lands in the last ones). */
  rpcSecondsBuckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
  /** ...an agent's reading of its whole /proc, and a mount's snapshot of one node. */
  snapshotSecondsBuckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2.5],
  /** ...one FUSE request, from the kernel's hand-over to the answer (most take ~30 us). */
  fuseSecondsBuckets: [
    0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.05, 0.25, 1.5, 10,
  ],
  /**
   * Membership through etcd (spec section 2, `membership.etcd` in the cluster file): the
   * time-to-live of the lease each agent registers its node under, in seconds. The agent
   * renews it every third of that; a node whose agent stopped is gone from every view this
   * long (at most) after its last renewal (it is `down` by heartbeat long before).
   */
  membershipLeaseTtlS: 6,
  /** Key prefix of the registrations when the cluster file's `membership` names none. */
  membershipPrefix: '/gproc/',
  /**
   * Deadline of one call to etcd (a read of the registrations, a lease grant, a put), ms.
   * The CLI waits at most this long for the node list; an agent retries its registration.
   */
  etcdCallDeadlineMs: 3000,
  /** Longest wait between two attempts to reach etcd again (a watch, a lost lease), ms. */
  etcdRetryMaxMs: 2000,
} as const;
