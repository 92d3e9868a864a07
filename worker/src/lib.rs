//! The Worker: built in issue 3.
