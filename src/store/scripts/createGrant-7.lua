--[[
  Stores a new grant, its first token and its index entries in one atomic call. Refused (nothing
  written) until the grant's mint record has landed, which leaves the record's stream id in the
  hash (`h`): no grant exists without one, whatever order calls arrive in. (No later record of the
  grant can precede this: nobody knows the grant until its mint answers.)
  Refused too (nothing written) while the client carries a kill-switch mark: the admin writes the
  mark before revoking the client's grants, so every grant either was created before the mark,
  and is in the client's index when the revocation reads it, or is never created. And refused
  when the client already holds the cap of grants neither revoked nor ended (the live-grant set
  loses a grant when it is revoked, and ended ones here).
  Input:
    KEYS[1] grant hash (fields: GRANT_FIELDS in grant-fields.ts: s status, c client, t task,
            e deadline, v policy version, rt refresh hash, h first record; tokens as tokenField)
    KEYS[2] live-grant index
    KEYS[3] client's index bucket (grant -> task)
    KEYS[4] clients by latest deadline
    KEYS[5] grant data
    KEYS[6] client's kill-switch mark
    KEYS[7] client's live-grant set
    ARGV[1] grant id
    ARGV[2] client id
    ARGV[3] task id
    ARGV[4] deadline (epoch s)
    ARGV[5] policy version
    ARGV[6] grant data JSON
    ARGV[7] refresh-token hash
    ARGV[8] first token's field (tokenField)
    ARGV[9] its exp
    ARGV[10] the index bucket's end (epoch s)
    ARGV[11] now (epoch s)
    ARGV[12] most live grants per agent ('0': no cap)
    ARGV[13] first token's digest (tokenDigestField) or '' (none stored)
  Output:
    'created' | 'client_disabled' | 'client_deleted' | 'live_grant_limit'
    error MANDATE_NO_RECORD when the grant's mint record has not landed
  Redis Cluster: KEYS 6 and 7 (and 3, 4) carry other tags than the grant's, but
  the deployment's keys share one hash tag there (key-names.ts, clusterPrefix), so this
  stays one atomic call; docs/architecture.md ("Spreading one deployment over slots") says
  how it would split.
]]
--@include grantCreate
return create_grant(KEYS, ARGV)
