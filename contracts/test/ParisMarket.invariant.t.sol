// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Headers} from "./Headers.sol";
import {ParisMarket} from "../src/ParisMarket.sol";
import {IParisMarketTypes} from "../src/IParisMarket.sol";
import {IParisCourt} from "../src/IParisCourt.sol";

/// @notice Drives the market through random sequences of every action, recording what it saw succeed.
contract MarketHandler is Headers {
    ParisMarket internal immutable market;
    IParisCourt internal immutable court;
    address[] public actors;
    address internal constant AGGREGATOR = address(0xA66);
    uint256[] public jobIds;
    uint256[] public deltaIds;

    uint256 public ethIn;
    uint256 public ethOut;
    mapping(address => uint256) public stakedIn;
    mapping(uint256 => uint256) public timesMerged;
    mapping(uint256 => uint256) public timesPaid;
    bool public slashedMinerWithdrew;
    bool public withdrewWithUnsettledDeltas;
    bool public minerVotedOwnDelta;
    bool public honestMinerSlashed;
    bool public honestValidatorSlashed;
    bytes32 internal constant SALT = keccak256("salt");
    /// @dev The requester's trap miner (actor 7): it only ever submits traps, sealed in `trapsOf` beforehand.
    address internal constant TRAPPER = address(0x7A9);
    mapping(uint256 jobId => uint256[]) internal trapLists;
    struct Sealed {
        bool pass;
        uint32 score;
    }
    mapping(uint256 deltaId => mapping(address validator => Sealed)) internal sealedVotes;
    uint256 public slashSharesCollected; // the fail voters' half of slashed stakes, as far as collected

    constructor(ParisMarket target) {
        market = target;
        court = IParisCourt(address(target));
        for (uint160 i = 1; i <= 6; ++i) {
            actors.push(address(0x1000 + i));
        }
        actors.push(AGGREGATOR);
        actors.push(TRAPPER);
        for (uint256 i; i < 6; ++i) {
            vm.deal(actors[i], 1_000_000 ether);
            _stake(actors[i], _roles(i), _isHonestValidator(actors[i]) ? 10_000 ether : 2 ether);
        }
        vm.deal(TRAPPER, 1_000 ether);
        _stake(TRAPPER, 1, 100 ether);
        vm.deal(AGGREGATOR, 1_000 ether);
        _stake(AGGREGATOR, 4, 2 ether);
    }

    /// @dev Three miners, three validators; actor 2 holds both roles (it mines and votes on others' deltas).
    ///      Actor 0 mines honestly (it always reveals at once); actors 3 and 4 validate honestly: always online,
    ///      they seal and open a vote whenever anyone does (pass, but fail on a trap), and hold most of the stake.
    ///      Actors 2 and 5 vote at random, open or withhold at random, and may restake without bound.
    function _roles(uint256 i) internal pure returns (uint8) {
        return i < 2 ? 1 : i == 2 ? 3 : 2;
    }

    function _isHonestValidator(address who) internal view returns (bool) {
        return who == actors[3] || who == actors[4];
    }

    function _attacker(uint256 seed) internal view returns (address) {
        return seed % 2 == 0 ? actors[2] : actors[5];
    }

    function _stake(address who, uint8 roles, uint256 amount) internal {
        vm.prank(who);
        try market.stake{value: amount}(roles) {
            ethIn += amount;
            stakedIn[who] += amount;
        } catch {}
    }

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % actors.length];
    }

    function _delta(uint256 seed) internal view returns (uint256) {
        return deltaIds.length == 0 ? 0 : deltaIds[seed % deltaIds.length];
    }

    function _jobId(uint256 seed) internal view returns (uint256) {
        return jobIds.length == 0 ? 0 : jobIds[seed % jobIds.length];
    }

    function jobCountSeen() external view returns (uint256) {
        return jobIds.length;
    }

    function deltaCountSeen() external view returns (uint256) {
        return deltaIds.length;
    }

    function createJob(uint256 actorSeed, uint96 reward, uint96 fee, bool large) external {
        address requester = _actor(actorSeed);
        reward = uint96(_bound(reward, 0, large ? 2 ** 92 : 10 ether)); // large: payouts beyond 2^80 wei
        uint256 value = uint256(reward) * 3 + 1;
        IParisMarketTypes.JobTerms memory terms = IParisMarketTypes.JobTerms({
            specDigest: bytes32(0), specCodec: 0x55, experts: 2, rounds: 3, rewardPerRound: reward,
            validatorFee: uint64(_bound(fee, 0, 0.1 ether)), deadline: uint40(block.timestamp + 1000 days),
            revealWindow: 30 days, stalenessBound: 1, quorum: 2, challenges: 2, aggregator: AGGREGATOR
        });
        vm.deal(requester, requester.balance + value);
        vm.prank(requester);
        uint256 id = market.createJob{value: value}(terms);
        ethIn += value;
        jobIds.push(id);
    }

    function topUp(uint256 jobSeed, uint96 value) external {
        uint256 id = _jobId(jobSeed);
        value = uint96(_bound(value, 1, 5 ether));
        vm.deal(address(this), value);
        try market.topUp{value: value}(id) {
            ethIn += value;
        } catch {}
    }

    function submit(uint256 minerSeed, uint256 jobSeed, uint16 expert, uint32 base) external {
        uint256 id = _jobId(jobSeed);
        address miner = actors[minerSeed % 3];
        expert %= 2;
        uint32 current = market.versionOf(id, expert);
        uint32 lag = base % 3; // mostly current or one behind; sometimes too stale
        vm.prank(miner);
        try market.submitDelta(id, expert, lag > current ? 0 : current - lag, 0, bytes32(0), 0x55, bytes32(0), 4)
        returns (uint256 deltaId) {
            deltaIds.push(deltaId);
            if (miner == actors[0]) _reveal(deltaId); // the honest miner reveals at once
        } catch {}
    }

    function reveal(uint256 deltaSeed) external {
        _reveal(_delta(deltaSeed));
    }

    function _reveal(uint256 id) internal {
        vm.roll(block.number + 3);
        _fix(id);
        vm.prank(market.getDelta(id).miner);
        try market.reveal(id, bytes32(0), 0x55) {} catch {}
    }

    /// @dev Reveal, vote, open and decide in one action, so merges and payouts are reached often.
    function revealAndPass(uint256 deltaSeed, uint32 value) external {
        uint256 id = _delta(deltaSeed);
        _reveal(id);
        _honestVotes(id, value);
        _toPhase(id, 1);
        _honestOpens(id);
        _toPhase(id, 2);
        try court.decide(id) {} catch {}
    }

    /// @dev An attacker (the miner-validator included) seals a vote either way: split votes and self-votes are
    ///      tried; the honest validators, always online, seal theirs too.
    function commitVote(uint256 deltaSeed, uint256 validatorSeed, bool pass, uint32 value) external {
        _commitVote(_delta(deltaSeed), _attacker(validatorSeed), pass, uint32(_bound(value, 0, 10_000)));
    }

    function _commitVote(uint256 id, address validator, bool pass, uint32 value) internal {
        bytes32 commitment = court.voteCommitment(id, validator, pass, value, SALT);
        vm.prank(validator);
        try court.commitVote(id, commitment) {
            if (market.getDelta(id).miner == validator) minerVotedOwnDelta = true;
            sealedVotes[id][validator] = Sealed(pass, value);
        } catch {}
        _honestVotes(id, value);
    }

    /// @dev The whole Sybil attack in one action: (bond a lot more,) fail a delta, open the vote, decide it, slash
    ///      its miner and then the validators who passed it.
    function sybilAttack(uint256 deltaSeed, uint256 attackerSeed, bool bondFirst) external {
        uint256 id = _delta(deltaSeed);
        address attacker = _attacker(attackerSeed);
        if (bondFirst) _stake(attacker, attacker == actors[2] ? 3 : 2, 500 ether);
        _commitVote(id, attacker, false, 0);
        _toPhase(id, 1);
        vm.prank(attacker);
        try court.revealVote(id, false, 0, SALT) {} catch {}
        _honestOpens(id);
        _toPhase(id, 2);
        try court.decide(id) {} catch {}
        vm.prank(attacker);
        try court.slash(id, IParisMarketTypes.SlashReason.FailedSpotCheck, bytes32(0), 0x55) {
            if (market.getDelta(id).miner == actors[0]) honestMinerSlashed = true;
        } catch {}
        _toPhase(id, 3);
        for (uint256 i = 3; i < 5; ++i) {
            if (market.votes(id, actors[i]) == IParisMarketTypes.Vote.Committed) continue; // as in `slashVoter`
            vm.prank(attacker);
            try court.slashVoter(id, actors[i]) {
                honestValidatorSlashed = true;
            } catch {}
        }
    }

    /// @dev In the delta's reveal phase, an attacker opens its vote (or does not) and the honest validators theirs.
    function openVotes(uint256 deltaSeed, uint256 validatorSeed, bool withhold) external {
        uint256 id = _delta(deltaSeed);
        _toPhase(id, 1);
        address attacker = _attacker(validatorSeed);
        Sealed memory vote = sealedVotes[id][attacker];
        if (!withhold) {
            vm.prank(attacker);
            try court.revealVote(id, vote.pass, vote.score, SALT) {} catch {}
        }
        _honestOpens(id);
    }

    function decide(uint256 deltaSeed) external {
        uint256 id = _delta(deltaSeed);
        _toPhase(id, 2);
        try court.decide(id) {} catch {}
    }

    function slashVoter(uint256 deltaSeed, uint256 validatorSeed, uint256 reporterSeed) external {
        uint256 id = _delta(deltaSeed);
        address validator = actors[2 + validatorSeed % 4];
        if (_isHonestValidator(validator) && market.votes(id, validator) == IParisMarketTypes.Vote.Committed) {
            return; // the handler does not model time passing while they are online: they would have opened it
        }
        vm.prank(_actor(reporterSeed));
        try court.slashVoter(id, validator) {
            if (_isHonestValidator(validator)) honestValidatorSlashed = true;
        } catch {}
    }

    /// @dev The requester seals a trap for the job's next version of expert 0, and its trap miner plants it.
    function plantTrap(uint256 jobSeed) external {
        uint256 jobId = _jobId(jobSeed);
        IParisMarketTypes.Job memory job = market.getJob(jobId);
        (bytes32 committed,) = market.trapsOf(jobId);
        uint32 version = market.versionOf(jobId, 0);
        if (committed == bytes32(0)) {
            trapLists[jobId].push(market.deltaIdOf(jobId, 0, version, 0, TRAPPER));
            vm.prank(job.requester);
            try court.commitTraps(jobId, keccak256(abi.encode(jobId, trapLists[jobId], SALT))) {} catch {}
            vm.roll(block.number + 1);
        }
        vm.prank(TRAPPER);
        try market.submitDelta(jobId, 0, version, 0, bytes32(0), 0x55, bytes32(0), 4) returns (uint256 deltaId) {
            deltaIds.push(deltaId);
        } catch {}
    }

    function exposeTrap(uint256 deltaSeed) external {
        uint256 id = _delta(deltaSeed);
        uint256 jobId = market.getDelta(id).jobId;
        _toPhase(id, 2);
        vm.prank(market.getDelta(id).miner);
        try court.exposeTrap(id, trapLists[jobId], SALT) {} catch {}
    }

    function _honestVotes(uint256 id, uint32 value) internal {
        bool pass = market.getDelta(id).miner != TRAPPER;
        for (uint256 i = 3; i < 5; ++i) {
            bytes32 commitment = court.voteCommitment(id, actors[i], pass, value, SALT);
            vm.prank(actors[i]);
            try court.commitVote(id, commitment) {
                sealedVotes[id][actors[i]] = Sealed(pass, value);
            } catch {}
        }
    }

    function _honestOpens(uint256 id) internal {
        for (uint256 i = 3; i < 5; ++i) {
            Sealed memory vote = sealedVotes[id][actors[i]];
            vm.prank(actors[i]);
            try court.revealVote(id, vote.pass, vote.score, SALT) {} catch {}
        }
    }

    /// @dev Move the clock into the delta's given vote phase (1: open votes, 2: decide), never back.
    function _toPhase(uint256 id, uint256 phase) internal {
        uint256 at = uint256(market.getDelta(id).revealedAt) + phase * market.VOTE_WINDOW() + 1;
        if (at > block.timestamp) vm.warp(at);
    }

    function collect(uint256 deltaSeed, uint256 validatorSeed) external {
        address validator = actors[2 + validatorSeed % 4];
        uint256[] memory ids = new uint256[](1);
        ids[0] = _delta(deltaSeed);
        IParisMarketTypes.Delta memory d = market.getDelta(ids[0]);
        IParisMarketTypes.Vote vote = market.votes(ids[0], validator);
        vm.prank(validator);
        try court.collect(ids) {
            if (vote == IParisMarketTypes.Vote.Fail) slashSharesCollected += d.payout / d.failVotes;
        } catch {}
    }

    function release(uint256 deltaSeed) external {
        try market.release(_delta(deltaSeed)) {} catch {}
    }

    function fixChallenge(uint256 deltaSeed, uint8 blocks) external {
        vm.roll(block.number + blocks);
        _fix(_delta(deltaSeed));
    }

    /// @dev Fix a challenge from its block's header, when that block is past and its hash readable.
    function _fix(uint256 id) internal {
        uint256 target = market.getDelta(id).submittedBlock + 2;
        if (block.number <= target || block.number > target + 256) return;
        try market.fixChallenge(id, _provenHeader(target, _mixOf(target))) {} catch {}
    }

    function setKeyring(uint256 jobSeed, bytes32 digest) external {
        uint256 id = _jobId(jobSeed);
        vm.prank(market.getJob(id).requester);
        try market.setKeyring(id, digest, 0x55) {} catch {}
    }

    function finalize(uint256 jobSeed, uint16 expert) external {
        uint256 jobId = _jobId(jobSeed);
        expert %= 2;
        uint256[] memory candidates = new uint256[](deltaIds.length);
        uint256 count;
        uint32 current = market.versionOf(jobId, expert);
        for (uint256 i; i < deltaIds.length; ++i) {
            IParisMarketTypes.Delta memory d = market.getDelta(deltaIds[i]);
            if (d.jobId == jobId && d.expert == expert && d.state == IParisMarketTypes.DeltaState.Passed
                && current - d.baseVersion <= 1) {
                candidates[count++] = deltaIds[i];
            }
        }
        uint256[] memory merged = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            merged[i] = candidates[i];
        }
        vm.prank(AGGREGATOR);
        try market.finalize(jobId, expert, current + 1, bytes32(0), 0x70, merged, 0) {
            for (uint256 i; i < count; ++i) {
                ++timesMerged[merged[i]];
            }
        } catch {}
    }

    function remerge(uint256 deltaSeed) external {
        uint256 id = _delta(deltaSeed);
        IParisMarketTypes.Delta memory d = market.getDelta(id);
        uint256[] memory again = new uint256[](1);
        again[0] = id;
        vm.prank(AGGREGATOR);
        try market.finalize(d.jobId, d.expert, market.versionOf(d.jobId, d.expert) + 1, bytes32(0), 0x70, again, 0) {
            ++timesMerged[id];
        } catch {}
    }

    function claim(uint256 deltaSeed) external {
        uint256[] memory ids = new uint256[](1);
        ids[0] = _delta(deltaSeed);
        try market.claim(ids) {
            ++timesPaid[ids[0]];
        } catch {}
    }

    function withdraw(uint256 actorSeed) external {
        address who = _actor(actorSeed);
        uint256 amount = market.owed(who);
        vm.prank(who);
        try market.withdraw() {
            ethOut += amount;
        } catch {}
    }

    function slash(uint256 deltaSeed, uint256 validatorSeed, bool withheld) external {
        uint256 id = _delta(deltaSeed);
        vm.prank(actors[2 + validatorSeed % 4]);
        IParisMarketTypes.SlashReason reason =
            withheld ? IParisMarketTypes.SlashReason.WithheldReveal : IParisMarketTypes.SlashReason.FailedSpotCheck;
        try court.slash(id, reason, bytes32(0), 0x55) {
            if (market.getDelta(id).miner == actors[0]) honestMinerSlashed = true;
        } catch {}
    }

    function restake(uint256 actorSeed, uint96 amount) external {
        uint256 i = actorSeed % 6;
        _stake(actors[i], _roles(i), _bound(amount, 0, 3 ether));
    }



    /// @dev Early: request unbonding and try to withdraw at once (right after a cheat, say); otherwise after the delay.
    ///      The honest validators stay bonded.
    function unbondAndWithdrawStake(uint256 actorSeed, bool early) external {
        address who = actors[actorSeed % 6];
        if (_isHonestValidator(who)) return;
        vm.prank(who);
        try market.requestUnbond() {} catch {}
        if (!early) vm.warp(block.timestamp + 8 days);
        IParisMarketTypes.Stake memory s = market.getStake(who);
        vm.prank(who);
        try market.withdrawStake() {
            if (s.slashed) slashedMinerWithdrew = true;
            if (s.open != 0) withdrewWithUnsettledDeltas = true;
        } catch {}
    }

    function reclaim(uint256 jobSeed) external {
        uint256 id = _jobId(jobSeed);
        IParisMarketTypes.Job memory job = market.getJob(id);
        uint256 reclaimableAt = uint256(job.deadline) + 2 * uint256(job.revealWindow);
        if (reclaimableAt >= block.timestamp) vm.warp(reclaimableAt + 1);
        vm.prank(job.requester);
        try market.reclaim(id) {} catch {}
    }

    function passTime(uint32 secondsForward) external {
        vm.warp(block.timestamp + _bound(secondsForward, 1, 2 hours));
        vm.roll(block.number + 1);
    }

    receive() external payable {}
}

contract ParisMarketInvariantTest is Headers {
    ParisMarket internal market;
    MarketHandler internal handler;

    function setUp() public {
        vm.warp(1_000_000);
        vm.prevrandao(_mixOf(block.number));
        market = new ParisMarket(1 ether, 7 days, 2, 10 minutes);
        handler = new MarketHandler(market);
    }

    /// @dev Read by forge: only the handler is called during invariant runs.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice Every wei the market holds is accounted for, and it holds exactly what came in minus what went out.
    function invariant_escrowConservation() public view {
        uint256 escrows;
        for (uint256 i; i < handler.jobCountSeen(); ++i) {
            IParisMarketTypes.Job memory job = market.getJob(handler.jobIds(i));
            escrows += uint256(job.escrow) + job.feePool;
        }
        uint256 unclaimed;
        for (uint256 i; i < handler.deltaCountSeen(); ++i) {
            IParisMarketTypes.Delta memory d = market.getDelta(handler.deltaIds(i));
            if (d.state == IParisMarketTypes.DeltaState.Merged || d.state == IParisMarketTypes.DeltaState.Slashed) {
                unclaimed += d.payout; // a merged delta's reward, or a slashed one's share for its fail voters
            }
        }
        unclaimed -= handler.slashSharesCollected();
        uint256 stakes;
        uint256 withdrawable;
        for (uint256 i; i < 8; ++i) {
            address actor = handler.actors(i);
            stakes += market.getStake(actor).amount;
            withdrawable += market.owed(actor);
        }
        withdrawable += market.owed(address(handler)) + market.owed(address(0)); // address(0): burned
        vm.assertEq(address(market).balance, escrows + unclaimed + stakes + withdrawable, "accounted balance");
        vm.assertEq(address(market).balance, handler.ethIn() - handler.ethOut(), "in minus out");
    }

    function invariant_noDeltaMergedOrPaidTwice() public view {
        for (uint256 i; i < handler.deltaCountSeen(); ++i) {
            uint256 id = handler.deltaIds(i);
            vm.assertLe(handler.timesMerged(id), 1, "merged twice");
            vm.assertLe(handler.timesPaid(id), 1, "paid twice");
            vm.assertLe(handler.timesPaid(id), handler.timesMerged(id), "paid without merge");
        }
    }

    function invariant_stakesNeverExceedWhatWasBonded() public view {
        for (uint256 i; i < 6; ++i) {
            address actor = handler.actors(i);
            vm.assertLe(market.getStake(actor).amount, handler.stakedIn(actor), "stake above deposits");
        }
    }

    function invariant_slashedMinerCannotWithdraw() public view {
        vm.assertFalse(handler.slashedMinerWithdrew());
    }

    /// @notice Stake backs work: MIN_STAKE per unsettled delta, and no stake leaves while a delta is unsettled.
    function invariant_stakeBacksEveryUnsettledDelta() public view {
        vm.assertFalse(handler.withdrewWithUnsettledDeltas(), "withdrew with unsettled deltas");
        for (uint256 i; i < 6; ++i) {
            IParisMarketTypes.Stake memory s = market.getStake(handler.actors(i));
            if (!s.slashed) vm.assertGe(uint256(s.amount), uint256(s.open) * market.MIN_STAKE(), "stake below open x min");
        }
    }

    function invariant_aVoterIsNeverTheMiner() public view {
        vm.assertFalse(handler.minerVotedOwnDelta());
    }

    /// @notice While honest validators hold the majority of the stake that votes, an honest miner is never slashed,
    ///         and neither is an honest validator, whatever the others vote, withhold or bond.
    function invariant_honestMinersAndValidatorsAreNeverSlashed() public view {
        vm.assertFalse(handler.honestMinerSlashed(), "honest miner slashed");
        vm.assertFalse(handler.honestValidatorSlashed(), "honest validator slashed");
        vm.assertFalse(market.getStake(handler.actors(0)).slashed, "honest miner's stake slashed");
        vm.assertFalse(market.getStake(handler.actors(3)).slashed, "honest validator's stake slashed");
    }

    /// @notice Committees are drawn against the stake of exactly the validators that may vote.
    function invariant_validatorStakeIsWhatBondedValidatorsHold() public view {
        uint256 bonded;
        for (uint256 i; i < 8; ++i) {
            IParisMarketTypes.Stake memory s = market.getStake(handler.actors(i));
            if (s.roles & 2 != 0 && !s.slashed && s.unbondAt == 0) bonded += s.amount;
        }
        vm.assertEq(market.validatorStake(), bonded);
    }

    /// @notice A passed delta stays payable: while its expert has rounds left in an open job, the escrow covers
    ///         the share of that expert's next merge.
    function invariant_aPassedDeltaStaysPayable() public view {
        for (uint256 i; i < handler.deltaCountSeen(); ++i) {
            IParisMarketTypes.Delta memory d = market.getDelta(handler.deltaIds(i));
            if (d.state != IParisMarketTypes.DeltaState.Passed) continue;
            IParisMarketTypes.Job memory job = market.getJob(d.jobId);
            if (job.closed || market.versionOf(d.jobId, d.expert) >= job.rounds) continue;
            vm.assertGe(uint256(job.escrow), job.rewardPerRound / job.experts, "passed delta unpayable");
        }
    }

    /// @notice Fees never eat reserved rewards, so every delta that passes can still be merged and paid in full.
    function invariant_feesNeverEatReservedRewards() public view {
        for (uint256 i; i < handler.jobCountSeen(); ++i) {
            uint256 id = handler.jobIds(i);
            IParisMarketTypes.Job memory job = market.getJob(id);
            if (job.closed) continue;
            uint256 merges;
            for (uint16 e; e < job.experts; ++e) {
                merges += job.rounds - market.versionOf(id, e);
            }
            vm.assertGe(uint256(job.escrow), merges * (job.rewardPerRound / job.experts), "rewards short");
        }
    }
}
