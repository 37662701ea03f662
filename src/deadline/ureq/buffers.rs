//! A connection's buffers, held only while they are used. ureq's `LazyBuffers` allocates
//! (and zero-fills) the input and output buffer together at the first write and keeps
//! both for the whole exchange: 32 KiB for every probe in flight, most of it for a probe
//! that sent its request and waits for an answer that may never come (1,000 hanging
//! probes held 32 MB). [`LeanBuffers`] allocates the output when ureq writes, drops it
//! once it is sent ([`LeanBuffers::sent`]), and allocates the input only when there is
//! something to read: a probe waiting on a silent peer holds neither.

use ureq::unversioned::transport::Buffers;

/// Least scratch space a request body is read into (as ureq's own buffers).
const MIN_TMP: usize = 10 * 1024;

/// The input and output buffers of one connection, each of its configured size.
#[derive(Debug)]
pub(super) struct LeanBuffers {
    input_size: usize,
    output_size: usize,
    /// What was read: `input[consumed..filled]` is not consumed yet.
    input: Vec<u8>,
    filled: usize,
    consumed: usize,
    output: Vec<u8>,
    /// Whether the last consume took something (ureq's `can_use_input`).
    progress: bool,
}

impl LeanBuffers {
    /// Buffers of these sizes, none allocated yet; a size of 0 counts as 1.
    pub(super) fn new(input_size: usize, output_size: usize) -> LeanBuffers {
        LeanBuffers {
            input_size: input_size.max(1),
            output_size: output_size.max(1),
            input: Vec::new(),
            filled: 0,
            consumed: 0,
            output: Vec::new(),
            progress: false,
        }
    }

    /// The output has been sent: ureq writes each output from its start and sends it
    /// before it asks for the buffer again, so it need not be kept.
    pub(super) fn sent(&mut self) {
        self.output = Vec::new();
    }

    /// Whether the input holds its configured size unconsumed: a read has no room.
    pub(super) fn input_is_full(&self) -> bool {
        self.filled - self.consumed >= self.input_size
    }

    /// The input at its configured size (or more, when `tmp` asks for scratch room
    /// beyond it), the unconsumed part moved to the front when that makes room, as
    /// ureq's own buffers do. A full buffer offers no room: ureq then reports the
    /// response head as too big.
    fn make_room(&mut self, tmp: usize) {
        if self.consumed == self.filled {
            self.consumed = 0;
            self.filled = 0;
        } else if self.consumed > 0 && self.filled > self.input.len() / 2 {
            self.input.copy_within(self.consumed..self.filled, 0);
            self.filled -= self.consumed;
            self.consumed = 0;
        }
        let size = self.input_size.max(self.filled + tmp);
        if self.input.len() < size {
            self.input.resize(size, 0);
        }
    }

    fn ensure_output(&mut self) {
        if self.output.len() < self.output_size {
            self.output.resize(self.output_size, 0);
        }
    }
}

impl Buffers for LeanBuffers {
    fn output(&mut self) -> &mut [u8] {
        self.ensure_output();
        &mut self.output
    }

    fn input(&self) -> &[u8] {
        self.input.get(self.consumed..self.filled).unwrap_or(&[])
    }

    fn input_append_buf(&mut self) -> &mut [u8] {
        self.make_room(0);
        &mut self.input[self.filled..]
    }

    fn input_appended(&mut self, amount: usize) {
        self.filled = (self.filled + amount).min(self.input.len());
    }

    fn input_consume(&mut self, amount: usize) {
        self.progress = amount > 0;
        self.consumed = (self.consumed + amount).min(self.filled);
    }

    fn tmp_and_output(&mut self) -> (&mut [u8], &mut [u8]) {
        self.make_room(MIN_TMP);
        self.ensure_output();
        (&mut self.input[self.filled..], &mut self.output)
    }

    fn can_use_input(&self) -> bool {
        self.filled > self.consumed && self.progress
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_held_until_used_and_the_output_not_after_it_is_sent() {
        let mut buffers = LeanBuffers::new(16, 8);
        assert_eq!(
            (buffers.input.capacity(), buffers.output.capacity()),
            (0, 0)
        );
        buffers.output()[..3].copy_from_slice(b"GET");
        assert_eq!(buffers.output().len(), 8);
        buffers.sent();
        assert_eq!(buffers.output.capacity(), 0);
        assert_eq!(buffers.input.capacity(), 0, "the input waits for an answer");
    }

    #[test]
    fn input_is_read_consumed_and_compacted_within_its_size() {
        let mut buffers = LeanBuffers::new(8, 8);
        let room = buffers.input_append_buf();
        assert_eq!(room.len(), 8);
        room[..6].copy_from_slice(b"abcdef");
        buffers.input_appended(6);
        assert_eq!(buffers.input(), b"abcdef");
        assert!(!buffers.can_use_input(), "nothing consumed yet");
        buffers.input_consume(5);
        assert!(buffers.can_use_input());
        assert_eq!(buffers.input(), b"f");
        // The unconsumed byte moves to the front: the buffer does not grow.
        let room = buffers.input_append_buf();
        assert_eq!(room.len(), 7);
        room[..2].copy_from_slice(b"gh");
        buffers.input_appended(2);
        assert_eq!(buffers.input(), b"fgh");
        assert_eq!(buffers.input.len(), 8);
        buffers.input_consume(3);
        assert_eq!(buffers.input(), b"");
        assert!(!buffers.can_use_input(), "nothing left to use");
    }

    #[test]
    fn a_full_buffer_offers_no_room_and_a_body_gets_scratch_room() {
        let mut buffers = LeanBuffers::new(4, 4);
        let room = buffers.input_append_buf();
        room.copy_from_slice(b"abcd");
        buffers.input_appended(4);
        // As ureq's own buffers: it then reports the head as too big.
        assert!(buffers.input_is_full());
        assert!(buffers.input_append_buf().is_empty());
        assert_eq!(buffers.input(), b"abcd");
        let (tmp, output) = buffers.tmp_and_output();
        assert!(tmp.len() >= MIN_TMP);
        assert_eq!(output.len(), 4);
    }
}
