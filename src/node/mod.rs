pub mod backoff;
pub mod expand;
pub mod ipam;
pub mod logs;
pub mod mounts;
pub mod process;
pub mod probe;
