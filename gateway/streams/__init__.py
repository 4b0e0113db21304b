"""`/stream`, and the machinery every streamed answer goes through: opening an exchange (the
record's insert beside the upstream request), reading ahead, the relay (the answer to the client
in its format, then the record's end), the formats' frames, the record's last write, the live
streams of this process, and resuming after `Last-Event-ID`.

May import: the top's leaves, observability, db, access, upstreams, history.
Public: `endpoint.ROUTES`, `params.stream_fields`, `params.STREAM_OPTIONS`,
`exchange.Exchange`, `exchange.open_exchange`, `ending.write_ending`, `relay.Relay`,
`answer.Answer`, `answer.call_order`, `formats.FORMATS`, `formats.SEP`, `formats.TextFrames`,
`formats.Frames`, `whole.record_whole`, `whole.whole_headers`,
`live.Streams`, `resume.Follow`, `resume.parse_event_id`.
"""
