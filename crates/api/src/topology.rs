//! CPU topology: how a core count is laid out in sockets.
//!
//! Up to 16 cores use one socket; 17–32 use 2 sockets, 33–64 use 4, 65–248 use 8, with the cores
//! spread evenly. A count that cannot be spread evenly is rejected by admission.

/// The largest core count a VM may have.
pub const MAX_CORES: i32 = 248;

/// Number of sockets used for a core count.
pub fn sockets_for(cores: i32) -> i32 {
    match cores {
        ..=16 => 1,
        17..=32 => 2,
        33..=64 => 4,
        _ => 8,
    }
}

/// `(sockets, cores_per_socket)` for a core count: cores per socket are rounded up, so the
/// product exceeds `cores` exactly when the count is not a multiple of the socket count.
pub fn topology(cores: i32) -> (i32, i32) {
    let sockets = sockets_for(cores);
    let per_socket = (cores.max(1) + sockets - 1) / sockets;
    (sockets, per_socket)
}

/// Why a core count is not allowed, in the words admission reports; `None` when it is allowed.
pub fn validate_cores(cores: i32) -> Option<String> {
    if cores > MAX_CORES {
        return Some(format!("number of cores should not exceed {MAX_CORES}"));
    }
    let (sockets, per_socket) = topology(cores);
    if sockets * per_socket != cores {
        return Some(format!(
            "the requested number of cores must be a multiple of {sockets}"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_to_16_cores_use_one_socket() {
        assert_eq!(topology(1), (1, 1));
        assert_eq!(topology(16), (1, 16));
    }

    #[test]
    fn twenty_cores_are_two_sockets_of_ten() {
        assert_eq!(topology(20), (2, 10));
    }

    #[test]
    fn forty_cores_are_four_sockets_of_ten() {
        assert_eq!(topology(40), (4, 10));
    }

    #[test]
    fn eighty_cores_are_eight_sockets_of_ten() {
        assert_eq!(topology(80), (8, 10));
    }

    #[test]
    fn max_cores_are_eight_sockets_of_31() {
        assert_eq!(topology(248), (8, 31));
        assert_eq!(validate_cores(248), None);
    }

    #[test]
    fn seventeen_cores_are_rejected_as_not_a_multiple_of_two() {
        assert_eq!(
            validate_cores(17).unwrap(),
            "the requested number of cores must be a multiple of 2"
        );
    }

    #[test]
    fn eighteen_cores_are_accepted() {
        assert_eq!(validate_cores(18), None);
    }

    #[test]
    fn thirty_four_cores_are_rejected_as_not_a_multiple_of_four() {
        assert_eq!(
            validate_cores(34).unwrap(),
            "the requested number of cores must be a multiple of 4"
        );
    }

    #[test]
    fn seventy_cores_are_rejected_as_not_a_multiple_of_eight() {
        assert_eq!(
            validate_cores(70).unwrap(),
            "the requested number of cores must be a multiple of 8"
        );
    }

    #[test]
    fn more_than_248_cores_are_rejected() {
        assert_eq!(
            validate_cores(256).unwrap(),
            "number of cores should not exceed 248"
        );
    }
}
