//! What the request decoders that read a client's body in one pass share (`anthropic::one_pass`,
//! `gemini::one_pass`, `bedrock::one_pass`; Cohere's is `cohere::request::OnePass`). Each reads a
//! body only where it gives exactly what its format's reading by `Value` gives, and refuses the
//! rest, which that reading then takes (it names the field of a refusal).

use crate::wire::json::KeySeed;
use serde::de::{Deserialize, DeserializeSeed, Deserializer, Error, IgnoredAny, MapAccess, SeqAccess, Visitor};
use sonic_rs::LazyValue;
use std::fmt;
use std::marker::PhantomData;

/// `body` read by `seed` to its end, or `None` where the pass refused it.
pub(crate) fn read<'de, S: DeserializeSeed<'de>>(body: &'de [u8], seed: S) -> Option<S::Value> {
    // A `LazyValue` (a call's arguments as written) over bytes that are not UTF-8 would trip
    // sonic-rs's debug assertion before its own check: checked whole first (`json::utf8`), then
    // read as the text it is.
    let text = crate::wire::json::utf8(body).ok()?;
    let mut de = sonic_rs::Deserializer::from_str(text);
    let value = seed.deserialize(&mut de).ok()?;
    // Nothing but white space after the value, as `from_slice` (the reference's) checks.
    de.end().ok()?;
    Some(value)
}

/// Stops a pass; the reason is not kept (the reading by `Value` gives it).
pub(crate) fn refused<E: Error>() -> E {
    E::custom("left to the reading by Value")
}

/// Notes member `bit` of an object read (`seen`: those read before). The reference reads the
/// first of a repeated member (and its walk for the arguments gives up on one on the way to
/// them): a member given twice is refused, and left to it.
pub(crate) fn first_time<E: Error>(seen: &mut u16, bit: u16) -> Result<(), E> {
    if *seen & bit != 0 {
        return Err(refused());
    }
    *seen |= bit;
    Ok(())
}

/// The next member of an object that the pass models: its index in `names` (`matches` compares a
/// key with a name: `==`, or Gemini's either spelling). The others are skipped; one given twice
/// is refused (`first_time`), `seen` holding those read before. The caller reads its value.
/// Generic over `matches` (not a `fn` pointer) and inlined, so each visitor's comparisons compile
/// to its own code: called through a pointer they cost Converse's and Gemini's histories 7%.
#[inline(always)]
pub(crate) fn next_member<'de, A: MapAccess<'de>, M: Fn(&str, &str) -> bool>(
    map: &mut A,
    names: &[&str],
    matches: M,
    seen: &mut u16,
) -> Result<Option<usize>, A::Error> {
    while let Some(key) = map.next_key_seed(KeySeed)? {
        match names.iter().position(|name| matches(&key, name)) {
            Some(n) => {
                first_time(seen, 1 << n)?;
                return Ok(Some(n));
            }
            None => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(None)
}

/// A call's arguments as the pass keeps them: an object as written, as `tool_args::RawArgs`
/// keeps it for the reference; absent or `null`, `{}`. `None` for any other value, which the
/// reference writes out again.
pub(crate) fn arguments(raw: Option<&LazyValue<'_>>) -> Option<String> {
    match raw.map(|r| r.as_raw_str().trim_ascii()) {
        None | Some("null") => Some("{}".to_string()),
        Some(object) if object.starts_with('{') => Some(object.to_string()),
        Some(_) => None,
    }
}

/// An array read as serde reads a `Vec`, one element held in room for one
/// (`canonical::push_sparing`): a tool result's content is nearly always one item.
pub(crate) struct Sparing<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sparing<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Sparing<T>, D::Error> {
        struct Items<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Items<T> {
            type Value = Sparing<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Sparing<T>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    crate::canonical::push_sparing(&mut items, item);
                }
                Ok(Sparing(items))
            }
        }
        d.deserialize_seq(Items(PhantomData))
    }
}
