//! Errors of the HTTP layer itself (before a route is known), each with its status.

use std::io;

#[derive(Debug)]
pub enum HttpError {
    BadRequest(&'static str),
    HeadTooLarge,
    /// The request line alone does not fit in the head limit.
    TargetTooLong,
    BodyTooLarge,
    ExpectationFailed,
    UnsupportedTransferCoding,
    HeadTimeout,
    BodyTimeout,
    /// The peer closed mid-request; nothing can be answered.
    Closed,
    Io(io::Error),
}

impl HttpError {
    /// The status to answer with, or `None` when the connection is simply dropped.
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::BadRequest(_) => Some(400),
            HttpError::HeadTooLarge => Some(431),
            HttpError::TargetTooLong => Some(414),
            HttpError::BodyTooLarge => Some(413),
            HttpError::ExpectationFailed => Some(417),
            HttpError::UnsupportedTransferCoding => Some(501),
            HttpError::HeadTimeout | HttpError::BodyTimeout => Some(408),
            HttpError::Closed | HttpError::Io(_) => None,
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            HttpError::BadRequest(m) => m,
            HttpError::HeadTooLarge => "request head too large",
            HttpError::TargetTooLong => "request target too long",
            HttpError::BodyTooLarge => "request body too large",
            HttpError::ExpectationFailed => "unsupported Expect header",
            HttpError::UnsupportedTransferCoding => "unsupported Transfer-Encoding (only chunked is accepted)",
            HttpError::HeadTimeout => "timed out reading the request head",
            HttpError::BodyTimeout => "timed out reading the request body",
            HttpError::Closed => "connection closed",
            HttpError::Io(_) => "i/o error",
        }
    }
}
