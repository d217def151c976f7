"""Personal data on purpose: retention (pseudonymise old connections), erasure and their audit."""
