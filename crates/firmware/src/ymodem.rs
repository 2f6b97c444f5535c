//! YMODEM.
