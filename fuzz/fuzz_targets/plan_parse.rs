//! Fuzz the plan-file parser and validator: any bytes in, an error or a plan out, never a panic.
//! A plan that passes must also pass placeholder expansion without panicking, and survive the
//! wizard's round trip (`to_toml` then `parse` gives the same plan).
//!
//! The plan module is compiled here from src/plan/ itself (the very code behind
//! `aws_harden::plan::parse`), so the instrumented build does not drag the whole AWS SDK in; it
//! depends on nothing else in the crate.
#![no_main]

#[path = "../../src/plan/mod.rs"]
#[allow(dead_code, unused_imports)]
mod plan;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match plan::parse(text) {
        Err(e) => {
            // Every error renders to a message.
            let _ = e.to_string();
        }
        Ok(p) => {
            let ph = plan::Placeholders {
                account_id: "123456789012".into(),
                home_region: p.home_region.clone(),
            };
            if let Err(e) = plan::resolve(&p, &ph) {
                let _ = e.to_string();
            }
            let written = plan::to_toml(&p);
            let again = plan::parse(&written).unwrap_or_else(|e| {
                panic!("a valid plan, written back, no longer parses: {e}\n{written}")
            });
            assert_eq!(again, p, "round trip changed the plan:\n{written}");
        }
    }
});
