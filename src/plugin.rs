//! Plugin hook points. This issue adds the per-chunk one; HTTP pre/post and canonical-level hooks
//! follow with the plugin work.
//!
//! A chunk hook runs synchronously on every canonical stream event of a translated stream, between
//! the upstream decoder and the client encoder, inside the read loop. It costs nothing when no
//! plugin is configured: the pump holds an `Option<ChunkHooks>` that is `None`, so the only work
//! per event is one branch on it.

use crate::canonical::stream::StreamEvent;

/// What a hook decides for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkVerdict {
    /// Pass the (possibly modified) event on.
    Pass,
    /// Drop this event; the stream goes on.
    Drop,
    /// End the stream with the client format's in-stream error.
    Abort { status: u16, message: String },
}

/// A per-chunk plugin. One instance per request (hooks may keep per-stream state, e.g. a running
/// token count), called on the worker thread, so no `Send` or locks are needed.
pub trait ChunkHook {
    fn on_event(&mut self, event: &mut StreamEvent) -> ChunkVerdict;
}

/// The chunk hooks of one request, run in configuration order.
#[derive(Default)]
pub struct ChunkHooks {
    hooks: Vec<Box<dyn ChunkHook>>,
}

impl ChunkHooks {
    pub fn new(hooks: Vec<Box<dyn ChunkHook>>) -> Option<ChunkHooks> {
        (!hooks.is_empty()).then_some(ChunkHooks { hooks })
    }

    /// Runs every hook on `event`; the first one that does not pass decides.
    pub fn run(&mut self, event: &mut StreamEvent) -> ChunkVerdict {
        for h in &mut self.hooks {
            match h.on_event(event) {
                ChunkVerdict::Pass => {}
                other => return other,
            }
        }
        ChunkVerdict::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Upper;
    impl ChunkHook for Upper {
        fn on_event(&mut self, event: &mut StreamEvent) -> ChunkVerdict {
            if let StreamEvent::TextDelta { text, .. } = event {
                *text = text.to_uppercase();
            }
            ChunkVerdict::Pass
        }
    }

    /// Drops thinking; aborts after `limit` text deltas.
    struct Budget {
        limit: usize,
        seen: usize,
    }
    impl ChunkHook for Budget {
        fn on_event(&mut self, event: &mut StreamEvent) -> ChunkVerdict {
            match event {
                StreamEvent::ThinkingDelta { .. } => ChunkVerdict::Drop,
                StreamEvent::TextDelta { .. } => {
                    self.seen += 1;
                    if self.seen > self.limit {
                        ChunkVerdict::Abort {
                            status: 429,
                            message: "budget".into(),
                        }
                    } else {
                        ChunkVerdict::Pass
                    }
                }
                _ => ChunkVerdict::Pass,
            }
        }
    }

    #[test]
    fn no_hooks_means_none() {
        assert!(ChunkHooks::new(Vec::new()).is_none());
    }

    #[test]
    fn hooks_run_in_order_and_first_verdict_wins() {
        let mut hooks = ChunkHooks::new(vec![Box::new(Upper), Box::new(Budget { limit: 1, seen: 0 })]).unwrap();
        let mut e = StreamEvent::TextDelta {
            index: 0,
            text: "hi".into(),
        };
        assert_eq!(hooks.run(&mut e), ChunkVerdict::Pass);
        assert_eq!(
            e,
            StreamEvent::TextDelta {
                index: 0,
                text: "HI".into()
            }
        );
        let mut t = StreamEvent::ThinkingDelta {
            index: 1,
            text: "x".into(),
        };
        assert_eq!(hooks.run(&mut t), ChunkVerdict::Drop);
        assert!(matches!(hooks.run(&mut e), ChunkVerdict::Abort { status: 429, .. }));
    }
}
