//! The reference target server (`ferry serve`). INTERFACE STUB — to be implemented.
