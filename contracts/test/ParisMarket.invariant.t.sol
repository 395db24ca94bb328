// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Cheats} from "./Cheats.sol";
import {ParisMarket} from "../src/ParisMarket.sol";
import {IParisMarket} from "../src/IParisMarket.sol";

/// @notice Drives the market through random sequences of every action, recording what it saw succeed.
contract MarketHandler is Cheats {
    ParisMarket internal immutable market;
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
    uint256 public slashSharesCollected; // the fail voters' half of slashed stakes, as far as collected

    constructor(ParisMarket target) {
        market = target;
        for (uint160 i = 1; i <= 6; ++i) {
            actors.push(address(0x1000 + i));
        }
        actors.push(AGGREGATOR);
        for (uint256 i; i < 6; ++i) {
            vm.deal(actors[i], 1_000_000 ether);
            _stake(actors[i], _roles(i), 2 ether);
        }
    }

    /// @dev Three miners, three validators; actor 2 holds both roles (it mines and votes on others' deltas).
    function _roles(uint256 i) internal pure returns (uint8) {
        return i < 2 ? 1 : i == 2 ? 3 : 2;
    }

    function _validator(uint256 seed) internal view returns (address) {
        return actors[2 + seed % 4];
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
        IParisMarket.JobTerms memory terms = IParisMarket.JobTerms({
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
        try market.submitDelta(id, expert, lag > current ? 0 : current - lag, bytes32(0), 0x55, bytes32(0), 4)
        returns (uint256 deltaId) {
            deltaIds.push(deltaId);
        } catch {}
    }

    function reveal(uint256 deltaSeed) external {
        uint256 id = _delta(deltaSeed);
        vm.roll(block.number + 3);
        vm.prank(market.getDelta(id).miner);
        try market.reveal(id, bytes32(0), 0x55) {} catch {}
    }

    /// @dev Reveal and collect a passing quorum in one action, so merges and payouts are reached often.
    function revealAndPass(uint256 deltaSeed, uint32 value) external {
        uint256 id = _delta(deltaSeed);
        vm.roll(block.number + 3);
        vm.prank(market.getDelta(id).miner);
        try market.reveal(id, bytes32(0), 0x55) {} catch {}
        for (uint256 i = 3; i < 5; ++i) {
            _vote(actors[i], id, true, value);
        }
    }

    /// @dev Any validator, the miner-validator included, votes either way: split votes and self-votes are tried.
    function score(uint256 deltaSeed, uint256 validatorSeed, bool pass, uint32 value) external {
        _vote(_validator(validatorSeed), _delta(deltaSeed), pass, value);
    }

    function _vote(address validator, uint256 id, bool pass, uint32 value) internal {
        vm.prank(validator);
        try market.submitScore(id, pass, uint32(_bound(value, 0, 10_000))) {
            if (market.getDelta(id).miner == validator) minerVotedOwnDelta = true;
        } catch {}
    }

    function collect(uint256 deltaSeed, uint256 validatorSeed) external {
        address validator = _validator(validatorSeed);
        uint256[] memory ids = new uint256[](1);
        ids[0] = _delta(deltaSeed);
        IParisMarket.Delta memory d = market.getDelta(ids[0]);
        IParisMarket.Vote vote = market.votes(ids[0], validator);
        vm.prank(validator);
        try market.collect(ids) {
            if (vote == IParisMarket.Vote.Fail) slashSharesCollected += d.payout / d.failVotes;
        } catch {}
    }

    function release(uint256 deltaSeed) external {
        try market.release(_delta(deltaSeed)) {} catch {}
    }

    function fixChallenge(uint256 deltaSeed, uint8 blocks) external {
        vm.roll(block.number + blocks);
        try market.fixChallenge(_delta(deltaSeed)) {} catch {}
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
            IParisMarket.Delta memory d = market.getDelta(deltaIds[i]);
            if (d.jobId == jobId && d.expert == expert && d.state == IParisMarket.DeltaState.Passed
                && current - d.baseVersion <= 1) {
                candidates[count++] = deltaIds[i];
            }
        }
        uint256[] memory merged = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            merged[i] = candidates[i];
        }
        vm.prank(AGGREGATOR);
        try market.finalize(jobId, expert, current + 1, bytes32(0), 0x70, merged) {
            for (uint256 i; i < count; ++i) {
                ++timesMerged[merged[i]];
            }
        } catch {}
    }

    function remerge(uint256 deltaSeed) external {
        uint256 id = _delta(deltaSeed);
        IParisMarket.Delta memory d = market.getDelta(id);
        uint256[] memory again = new uint256[](1);
        again[0] = id;
        vm.prank(AGGREGATOR);
        try market.finalize(d.jobId, d.expert, market.versionOf(d.jobId, d.expert) + 1, bytes32(0), 0x70, again) {
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
        vm.prank(_validator(validatorSeed));
        IParisMarket.SlashReason reason =
            withheld ? IParisMarket.SlashReason.WithheldReveal : IParisMarket.SlashReason.FailedSpotCheck;
        try market.slash(_delta(deltaSeed), reason, bytes32(0), 0x55) {} catch {}
    }

    function restake(uint256 actorSeed, uint96 amount) external {
        uint256 i = actorSeed % 6;
        _stake(actors[i], _roles(i), _bound(amount, 0, 3 ether));
    }

    /// @dev Early: request unbonding and try to withdraw at once (right after a cheat, say); otherwise after the delay.
    function unbondAndWithdrawStake(uint256 actorSeed, bool early) external {
        address who = actors[actorSeed % 6];
        vm.prank(who);
        try market.requestUnbond() {} catch {}
        if (!early) vm.warp(block.timestamp + 8 days);
        IParisMarket.Stake memory s = market.getStake(who);
        vm.prank(who);
        try market.withdrawStake() {
            if (s.slashed) slashedMinerWithdrew = true;
            if (s.open != 0) withdrewWithUnsettledDeltas = true;
        } catch {}
    }

    function reclaim(uint256 jobSeed) external {
        uint256 id = _jobId(jobSeed);
        IParisMarket.Job memory job = market.getJob(id);
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

contract ParisMarketInvariantTest is Cheats {
    ParisMarket internal market;
    MarketHandler internal handler;

    function setUp() public {
        vm.warp(1_000_000);
        market = new ParisMarket(1 ether, 7 days, 2);
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
            IParisMarket.Job memory job = market.getJob(handler.jobIds(i));
            escrows += uint256(job.escrow) + job.feePool;
        }
        uint256 unclaimed;
        for (uint256 i; i < handler.deltaCountSeen(); ++i) {
            IParisMarket.Delta memory d = market.getDelta(handler.deltaIds(i));
            if (d.state == IParisMarket.DeltaState.Merged || d.state == IParisMarket.DeltaState.Slashed) {
                unclaimed += d.payout; // a merged delta's reward, or a slashed one's share for its fail voters
            }
        }
        unclaimed -= handler.slashSharesCollected();
        uint256 stakes;
        uint256 withdrawable;
        for (uint256 i; i < 7; ++i) {
            address actor = handler.actors(i);
            stakes += market.getStake(actor).amount;
            withdrawable += market.owed(actor);
        }
        withdrawable += market.owed(address(handler));
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
            IParisMarket.Stake memory s = market.getStake(handler.actors(i));
            if (!s.slashed) vm.assertGe(uint256(s.amount), uint256(s.open) * market.MIN_STAKE(), "stake below open x min");
        }
    }

    function invariant_aVoterIsNeverTheMiner() public view {
        vm.assertFalse(handler.minerVotedOwnDelta());
    }

    /// @notice Fees never eat reserved rewards, so every delta that passes can still be merged and paid in full.
    function invariant_feesNeverEatReservedRewards() public view {
        for (uint256 i; i < handler.jobCountSeen(); ++i) {
            uint256 id = handler.jobIds(i);
            IParisMarket.Job memory job = market.getJob(id);
            if (job.closed) continue;
            uint256 merges;
            for (uint16 e; e < job.experts; ++e) {
                merges += job.rounds - market.versionOf(id, e);
            }
            vm.assertGe(uint256(job.escrow), merges * (job.rewardPerRound / job.experts), "rewards short");
        }
    }
}
