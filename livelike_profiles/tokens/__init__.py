"""Access tokens: minted by the site (:mod:`.minting`), encrypted at rest (:mod:`.encryption`),
re-encrypted with a new key (:mod:`.key_rotation`), kept out of error reports (:mod:`.redaction`).
The model field that holds them is :mod:`livelike_profiles.fields`.
"""
