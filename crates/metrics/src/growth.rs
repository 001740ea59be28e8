//! How a live view's vectors grow: a million live views each keep a few, so a live view's
//! memory, not the copying, is what counts.

/// Makes room in `vec`, a live view's, for one more: a quarter more, not twice as much.
pub(crate) fn room_for_one<T>(vec: &mut Vec<T>) {
    if vec.len() == vec.capacity() {
        vec.reserve_exact((vec.len() / 4).max(1));
    }
}
