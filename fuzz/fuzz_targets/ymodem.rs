//! YMODEM from arbitrary bytes, as a serial line may carry them: the frame decoder, the
//! receiver (accepting every file it is offered) and the sender answer with bytes, events
//! or errors, never a panic, and the receiver never hands out more than it was promised.
#![no_main]

use camkey_firmware::ymodem::receiver::parse_header;
use camkey_firmware::ymodem::{Decoder, Limits, ReceiveEvent, Receiver, Sender};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_file_size: 100_000,
        ..Limits::default()
    };
    let _ = parse_header(data, &limits);
    let mut decoder = Decoder::new();
    for &b in data {
        let _ = decoder.push(b);
    }

    // The first byte chooses how the rest is cut into reads.
    let (cut, rest) = data.split_first().map_or((1, data), |(c, r)| (*c as usize + 1, r));
    let mut receiver = Receiver::new(limits);
    let _ = receiver.start();
    let mut announced = 0u64;
    let mut got = 0u64;
    for (i, chunk) in rest.chunks(cut).enumerate() {
        let mut out = receiver.feed(chunk);
        if i % 7 == 6 {
            let more = receiver.on_timeout();
            out.events.extend(more.events);
        }
        let mut j = 0;
        while j < out.events.len() {
            match &out.events[j] {
                ReceiveEvent::FileAnnounced { size, .. } => {
                    assert!(*size <= limits.max_file_size);
                    announced = *size;
                    got = 0;
                    let more = receiver.accept();
                    out.events.extend(more.events);
                }
                ReceiveEvent::Data(d) => {
                    got += d.len() as u64;
                    assert!(got <= announced);
                }
                ReceiveEvent::FileComplete { size, .. } => assert_eq!(got, *size),
                _ => {}
            }
            j += 1;
        }
    }

    let mut sender = Sender::new("fw.img", vec![0x55; 3000], limits).expect("a valid sender");
    for (i, chunk) in rest.chunks(cut).enumerate() {
        let _ = sender.feed(chunk);
        if i % 5 == 4 {
            let _ = sender.on_timeout();
        }
    }
});
