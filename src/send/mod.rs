//! Delivery of batches to the target. INTERFACE STUB — to be implemented.
