// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {JobFixture} from "./MarketFixture.sol";
import {IParisMarketTypes} from "../src/IParisMarket.sol";

/// @notice The attacks of issue 15 that the contract now refuses, each tried as an attacker would.
contract IncentivesTest is JobFixture {
    function test_failVoteBeforeTheChallengeIsRefused() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        vm.prank(VALIDATOR1); // a freshly staked Sybil would fail the delta before the miner could answer
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.VoteBeforeReveal.selector, id));
        court.commitVote(id, bytes32(0));
    }

    function test_minerHoldingTheValidatorRoleCannotVoteOnOrReportItsOwnDelta() public {
        _stake(MINER1, market.ROLE_VALIDATOR());
        uint256 id = _submit(MINER1, jobId, 0, 0);
        _reveal(id);
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.OwnDelta.selector, id, MINER1));
        court.commitVote(id, bytes32(0));

        uint256 withheld = _submit(MINER1, jobId, 1, 0);
        vm.warp(block.timestamp + 1 hours + 1);
        vm.prank(MINER1); // reporting its own withheld reveal would keep half its stake
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.OwnDelta.selector, withheld, MINER1));
        court.slash(withheld, IParisMarketTypes.SlashReason.WithheldReveal, bytes32(0), RAW);
    }

    function test_splitVotesDecideNothingAndEarnNothing() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        _reveal(id);
        _votes(id, true, false, 10_000); // equal stakes on both sides
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NoVerdict.selector, id));
        court.decide(id);
        _toPhase(id, 3);
        uint256[] memory ids = _ids(id);
        vm.prank(VALIDATOR1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NothingToCollect.selector, id, VALIDATOR1));
        court.collect(ids);
        vm.prank(VALIDATOR2);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NothingToCollect.selector, id, VALIDATOR2));
        court.collect(ids);
        vm.assertEq(uint256(market.getJob(jobId).feePool), 4 ether);
        vm.assertEq(_escrow(jobId), 6 ether);
    }

    function test_aSybilFailVoterLosesItsBondAndTheHonestMinerIsPaid() public {
        IParisMarketTypes.JobTerms memory terms = _terms();
        terms.quorum = 1; // the default: one vote could decide
        vm.prank(REQUESTER);
        uint256 job = market.createJob{value: 10 ether}(terms);
        address sybil = address(0x5B1);
        vm.deal(sybil, 1 ether);
        vm.prank(sybil);
        market.stake{value: 1 ether}(2); // freshly staked, the minimum
        uint256 id = _submit(MINER1, job, 0, 0);
        _reveal(id);
        _commit(sybil, id, false, 0);
        _commit(VALIDATOR1, id, true, 500);
        _toPhase(id, 1);
        _open(sybil, id, false, 0);
        _open(VALIDATOR1, id, true, 500);
        _toPhase(id, 2);
        court.decide(id); // 2 ether of stake passes it against the Sybil's 1
        vm.assertTrue(_state(id) == IParisMarketTypes.DeltaState.Passed);
        vm.prank(sybil);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotSlashable.selector, id, IParisMarketTypes.SlashReason.FailedSpotCheck));
        court.slash(id, IParisMarketTypes.SlashReason.FailedSpotCheck, bytes32(0), RAW);
        vm.prank(AGGREGATOR);
        market.finalize(job, 0, 1, keccak256("ckpt"), RAW, _ids(id), 0);
        _settleMerges();
        market.claim(_ids(id));
        vm.assertEq(market.owed(MINER1), 1 ether);
        _toPhase(id, 3);
        vm.prank(VALIDATOR1);
        court.slashVoter(id, sybil);
        (uint256 amount, bool slashed) = _stakeOf(sybil);
        vm.assertEq(amount, 0);
        vm.assertTrue(slashed);
        vm.assertEq(market.owed(VALIDATOR1), 0.5 ether); // the reporter's half; the other half is burned
        vm.assertEq(market.owed(address(0)), 0.5 ether);
        (, bool minerSlashed) = _stakeOf(MINER1);
        vm.assertFalse(minerSlashed);
    }

    function test_aVoteIsSealedUntilEveryCommitIsIn() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        _reveal(id);
        _commit(VALIDATOR1, id, true, 700);
        vm.prank(VALIDATOR1); // opening it while others may still commit would let them copy it
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotRevealPhase.selector, id, block.timestamp + VOTE_WINDOW + 1,
            block.timestamp + 2 * VOTE_WINDOW));
        court.revealVote(id, true, 700, SALT);
        _toPhase(id, 1);
        vm.prank(VALIDATOR2);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.VotingClosed.selector, id, block.timestamp - 1));
        court.commitVote(id, bytes32(0));
        vm.prank(VALIDATOR1); // nor can a sealed vote be opened as another verdict
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.VoteMismatch.selector, id, VALIDATOR1));
        court.revealVote(id, false, 0, SALT);
    }

    function test_aLosingOrWithheldVoteCostsTheWholeStake() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        _reveal(id);
        _commit(VALIDATOR3, id, false, 0); // a lone fail against the two that pass it
        address silent = address(0x5113);
        vm.deal(silent, 1 ether);
        vm.prank(silent);
        market.stake{value: 1 ether}(2);
        _commit(silent, id, true, 500); // sealed, never opened: it would wait to see how the others voted
        _commit(VALIDATOR1, id, true, 500);
        _commit(VALIDATOR2, id, true, 500);
        _toPhase(id, 1);
        _open(VALIDATOR3, id, false, 0);
        _open(VALIDATOR1, id, true, 500);
        _open(VALIDATOR2, id, true, 500);
        _toPhase(id, 2);
        court.decide(id);
        vm.prank(VALIDATOR1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotSettled.selector, id, block.timestamp - 1 + VOTE_WINDOW));
        court.slashVoter(id, VALIDATOR3); // not before a trap could still turn the verdict
        _toPhase(id, 3);
        vm.prank(VALIDATOR3);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NothingToCollect.selector, id, VALIDATOR3));
        court.collect(_ids(id));
        vm.prank(VALIDATOR1);
        court.slashVoter(id, VALIDATOR3);
        vm.prank(VALIDATOR2);
        court.slashVoter(id, silent);
        vm.prank(VALIDATOR2);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.RightVote.selector, id, VALIDATOR1));
        court.slashVoter(id, VALIDATOR1);
        vm.assertEq(market.owed(VALIDATOR1), 1 ether);
        vm.assertEq(market.owed(VALIDATOR2), 0.5 ether);
        vm.prank(VALIDATOR1);
        court.collect(_ids(id));
        vm.assertEq(market.owed(VALIDATOR1), 1.01 ether);
    }

    function test_lazyValidatorsThatPassATrapLoseTheirStakeAndTheRequesterGainsNothing() public {
        address trapMiner = address(0x7A9);
        vm.deal(trapMiner, 1 ether);
        vm.prank(trapMiner);
        market.stake{value: 1 ether}(1);
        uint256[] memory traps = _ids(market.deltaIdOf(jobId, 0, 0, 0, trapMiner));
        vm.roll(block.number + 1);
        vm.prank(REQUESTER);
        court.commitTraps(jobId, keccak256(abi.encode(jobId, traps, SALT)));
        vm.roll(block.number + 1);
        uint256 trap = _submit(trapMiner, jobId, 0, 0);
        _reveal(trap);
        _pass(trap, 9_000); // both validators pass it without replaying a segment
        vm.prank(trapMiner);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotExposable.selector, trap));
        court.exposeTrap(trap, traps, keccak256("another salt"));
        uint256 requesterBefore = market.owed(REQUESTER);
        vm.prank(trapMiner);
        court.exposeTrap(trap, traps, SALT);
        vm.assertTrue(_state(trap) == IParisMarketTypes.DeltaState.Released); // never merged
        vm.prank(AGGREGATOR);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotMergeable.selector, trap, IParisMarketTypes.DeltaState.Released));
        market.finalize(jobId, 0, 1, keccak256("ckpt"), RAW, _ids(trap), 0);
        _toPhase(trap, 3);
        vm.prank(VALIDATOR1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NothingToCollect.selector, trap, VALIDATOR1));
        court.collect(_ids(trap));
        vm.prank(REQUESTER);
        court.slashVoter(trap, VALIDATOR1);
        vm.prank(VALIDATOR3);
        court.slashVoter(trap, VALIDATOR2);
        vm.assertEq(market.owed(REQUESTER), requesterBefore); // a trap's slashings are burned whole
        vm.assertEq(market.owed(VALIDATOR3), 0);
        vm.assertEq(market.owed(address(0)), 4 ether);
        vm.assertEq(uint256(market.getStake(trapMiner).open), 0); // the trap's stake is free again
    }

    function test_aTrapIsExposableOnlyForDeltasSubmittedAfterItsCommitment() public {
        uint256 honest = _submit(MINER1, jobId, 0, 0);
        vm.roll(block.number + 1);
        uint256[] memory framed = _ids(honest); // sealed once the honest delta was seen: framing it
        vm.prank(REQUESTER);
        court.commitTraps(jobId, keccak256(abi.encode(jobId, framed, SALT)));
        vm.prank(REQUESTER);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.TrapsAlreadyCommitted.selector, jobId));
        court.commitTraps(jobId, keccak256("another list"));
        _reveal(honest);
        _pass(honest, 100);
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotExposable.selector, honest));
        court.exposeTrap(honest, framed, SALT);
    }

    function test_aRequesterCannotFrameAnotherMinersFutureDeltaAsATrap() public {
        uint256[] memory framed = _ids(market.deltaIdOf(jobId, 0, 0, 0, MINER1)); // predictable before it exists
        vm.prank(REQUESTER);
        court.commitTraps(jobId, keccak256(abi.encode(jobId, framed, SALT)));
        vm.roll(block.number + 1);
        uint256 honest = _submit(MINER1, jobId, 0, 0);
        _reveal(honest);
        _pass(honest, 100); // decided Passed, in its trap window now
        for (uint256 i; i < 2; ++i) {
            address caller = i == 0 ? REQUESTER : VALIDATOR3;
            vm.prank(caller);
            vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotTrapMiner.selector, honest, caller));
            court.exposeTrap(honest, framed, SALT);
        }
        _toPhase(honest, 3);
        vm.prank(VALIDATOR1);
        court.collect(_ids(honest)); // its pass voters are paid, not slashed
        vm.assertTrue(_state(honest) == IParisMarketTypes.DeltaState.Passed);
    }

    function test_feesNeverEatTheRewards() public {
        IParisMarketTypes.JobTerms memory terms = _terms();
        terms.experts = 1;
        terms.rounds = 1;
        terms.validatorFee = 1 ether;
        vm.prank(REQUESTER);
        uint256 tight = market.createJob{value: 2 ether + 0.5 ether}(terms); // half a fee beyond the reward
        uint256 id = _passed(MINER1, tight, 0, 0, 100);
        _toPhase(id, 3);
        vm.prank(VALIDATOR1);
        court.collect(_ids(id));
        vm.prank(VALIDATOR2);
        court.collect(_ids(id));
        vm.assertEq(market.owed(VALIDATOR1) + market.owed(VALIDATOR2), 0.5 ether); // the pool, no more
        vm.prank(AGGREGATOR);
        market.finalize(tight, 0, 1, keccak256("ckpt"), RAW, _ids(id), 0);
        vm.assertEq(_payout(id), 2 ether); // the whole reward, untouched by the fees
    }

    function test_payoutsAbove2To80WeiAreNotTruncated() public {
        IParisMarketTypes.JobTerms memory terms = _terms();
        terms.experts = 1;
        terms.rounds = 1;
        terms.rewardPerRound = uint96(2 ** 81 + 3);
        vm.deal(REQUESTER, 2 ** 82);
        vm.prank(REQUESTER);
        uint256 big = market.createJob{value: 2 ** 81 + 3}(terms);
        uint256 id = _passed(MINER1, big, 0, 0, 100);
        vm.prank(AGGREGATOR);
        market.finalize(big, 0, 1, keccak256("ckpt"), RAW, _ids(id), 0);
        vm.assertEq(_payout(id), 2 ** 81 + 3);
        vm.assertEq(_escrow(big), 0);
        _settleMerges();
        market.claim(_ids(id));
        vm.assertEq(market.owed(MINER1), 2 ** 81 + 3);
    }

    function test_aLateFinalizeBeatsTheRequestersReclaim() public {
        uint256 id = _passed(MINER1, jobId, 0, 0, 100);
        vm.warp(uint256(market.getJob(jobId).deadline) + 1);
        vm.prank(REQUESTER);
        vm.expectRevert(); // within the finalize grace: DeadlineNotReached
        market.reclaim(jobId);
        vm.prank(AGGREGATOR);
        market.finalize(jobId, 0, 1, keccak256("ckpt"), RAW, _ids(id), 0);
        _settleMerges();
        market.claim(_ids(id));
        vm.assertEq(market.owed(MINER1), 1 ether);
    }

    function test_unbondingRightAfterACheatCannotOutrunTheSlash() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        _reveal(id);
        vm.prank(MINER1);
        market.requestUnbond();
        _fail(id); // unbonding miners can still be judged and slashed
        vm.warp(block.timestamp + UNBONDING);
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.OutstandingDeltas.selector, MINER1, 1));
        market.withdrawStake(); // the failed delta is unsettled until slashed (or released, if nobody does)
        vm.prank(VALIDATOR1);
        court.slash(id, IParisMarketTypes.SlashReason.FailedSpotCheck, bytes32(0), RAW);
        (uint256 amount, bool slashed) = _stakeOf(MINER1);
        vm.assertEq(amount, 0);
        vm.assertTrue(slashed);
    }

    function test_oneMinimumStakeBacksOneUnsettledDelta() public {
        _submit(MINER1, jobId, 0, 0);
        _submit(MINER1, jobId, 1, 0); // 2 ether of stake: two unsettled deltas
        IParisMarketTypes.JobTerms memory terms = _terms();
        vm.prank(REQUESTER);
        uint256 other = market.createJob{value: 10 ether}(terms);
        vm.prank(MINER1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.StakeTooSmall.selector, 2 ether, 3 ether));
        market.submitDelta(other, 0, 0, 0, bytes32(0), RAW, bytes32(0), 8);
        _stake(MINER1, market.ROLE_MINER()); // bonding more backs more
        _submit(MINER1, other, 0, 0);
        vm.assertEq(uint256(market.getStake(MINER1).open), 3);
    }

    function test_release_freesTheStakeOfDeltasThatWillNeverSettle() public {
        uint256 stale = _passed(MINER2, jobId, 0, 0, 100); // passed, then aged out
        uint256 undecided = _submit(MINER2, jobId, 1, 0);
        _reveal(undecided);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotReleasable.selector, stale, IParisMarketTypes.DeltaState.Passed));
        market.release(stale);
        for (uint32 v = 1; v <= 2; ++v) {
            uint256 id = _passed(MINER1, jobId, 0, v - 1, 100);
            vm.prank(AGGREGATOR);
            market.finalize(jobId, 0, v, bytes32(0), RAW, _ids(id), 0);
            _settleMerges();
            market.claim(_ids(id));
        }
        vm.expectEmit(true, true, false, true);
        emit IParisMarketTypes.Released(stale, MINER2, IParisMarketTypes.DeltaState.Passed);
        market.release(stale);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotReleasable.selector, undecided, IParisMarketTypes.DeltaState.Submitted));
        market.release(undecided);
        vm.warp(block.timestamp + 4 hours + 1);
        market.release(undecided);
        vm.assertEq(uint256(market.getStake(MINER2).open), 0);
        vm.prank(VALIDATOR1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.AlreadyDecided.selector, undecided, IParisMarketTypes.DeltaState.Released));
        court.commitVote(undecided, bytes32(0));
        vm.prank(MINER2);
        market.requestUnbond();
        vm.warp(block.timestamp + UNBONDING);
        vm.prank(MINER2);
        market.withdrawStake();
    }

    function test_release_ofAFailedDeltaOnlyAfterItsSlashWindow() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        _reveal(id);
        _fail(id);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotReleasable.selector, id, IParisMarketTypes.DeltaState.Failed));
        market.release(id);
        vm.warp(block.timestamp + 4 hours + 1);
        market.release(id);
        vm.prank(VALIDATOR1);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotSlashable.selector, id, IParisMarketTypes.SlashReason.FailedSpotCheck));
        court.slash(id, IParisMarketTypes.SlashReason.FailedSpotCheck, bytes32(0), RAW);
    }

    function test_aGamedScoreIsPricedAtTwiceTheMergesMedianAtMost() public {
        IParisMarketTypes.JobTerms memory terms = _terms();
        terms.experts = 1;
        vm.prank(REQUESTER);
        uint256 id = market.createJob{value: 10 ether}(terms);
        address miner3 = address(0xB0B3);
        vm.deal(miner3, 10 ether);
        _stake(miner3, market.ROLE_MINER());
        uint256 gamed = _passed(MINER1, id, 0, 0, 10_000); // a score inflated 100x
        uint256 a = _passed(MINER2, id, 0, 0, 100);
        uint256 b = _passed(miner3, id, 0, 0, 100);
        uint256[] memory ids = new uint256[](3);
        (ids[0], ids[1], ids[2]) = (gamed, a, b);
        vm.prank(AGGREGATOR);
        market.finalize(id, 0, 1, keccak256("ckpt"), RAW, ids, 0);
        vm.assertEq(_payout(gamed), 1 ether); // 200 of 400 capped points, not 10,000 of 10,200
        vm.assertEq(_payout(a), 0.5 ether);
        vm.assertEq(_payout(b), 0.5 ether);
    }

    function test_theLatestFailureLeavesAWholeRevealWindowToSlashItBeforeRelease() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        vm.warp(block.timestamp + 1 hours); // the latest reveal
        _reveal(id);
        _fail(id); // decided two vote windows later: the latest a failure can be decided
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotReleasable.selector, id, IParisMarketTypes.DeltaState.Failed));
        market.release(id); // the cheater cannot release it ahead of the slash
        vm.warp(uint256(market.getDelta(id).submittedAt) + 4 hours);
        vm.prank(VALIDATOR1);
        court.slash(id, IParisMarketTypes.SlashReason.FailedSpotCheck, bytes32(0), RAW);
        vm.assertTrue(_state(id) == IParisMarketTypes.DeltaState.Slashed);
    }

    function test_aPassedDeltaNobodyMergesIsReleasedAtTheJobsReclaimTime() public {
        uint256 id = _passed(MINER1, jobId, 0, 0, 100); // the aggregator never merges it, nobody reclaims
        uint256 reclaimableAt = uint256(market.getJob(jobId).deadline) + 2 hours;
        vm.warp(reclaimableAt);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotReleasable.selector, id, IParisMarketTypes.DeltaState.Passed));
        market.release(id);
        vm.warp(reclaimableAt + 1);
        market.release(id);
        vm.assertEq(uint256(market.getStake(MINER1).open), 0);
    }

    function test_anUnrevealedDeltaIsNeverReleasedOnlySlashed() public {
        uint256 id = _submit(MINER1, jobId, 0, 0);
        vm.warp(block.timestamp + 30 days);
        vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotReleasable.selector, id, IParisMarketTypes.DeltaState.Submitted));
        market.release(id);
    }

    function test_committeesAreDrawnByStakeOnlyOnceTheDeltaIsRevealed() public {
        vm.prank(VALIDATOR1);
        market.stake{value: 994 ether}(2); // 996 of the 1,000 ether validators hold
        vm.assertEq(market.validatorStake(), 1_000 ether);
        uint256 drawn;
        bool refused;
        for (uint160 i = 1; i <= 40; ++i) {
            address miner = address(0xD000 + i);
            vm.deal(miner, 1 ether);
            vm.prank(miner);
            market.stake{value: 1 ether}(1);
            uint256 id = _submit(miner, jobId, 0, 0);
            vm.assertFalse(court.onCommittee(id, VALIDATOR1)); // nobody knows a delta's voters before its reveal
            _reveal(id);
            vm.assertTrue(court.onCommittee(id, VALIDATOR1)); // min(1, 8 x 996 / 1000)
            if (court.onCommittee(id, VALIDATOR2)) {
                ++drawn; // 8 x 2 / 1000: 1.6 % of the deltas
            } else if (!refused) {
                vm.prank(VALIDATOR2);
                vm.expectRevert(abi.encodeWithSelector(IParisMarketTypes.NotOnCommittee.selector, id, VALIDATOR2));
                court.commitVote(id, bytes32(0));
                refused = true;
            }
        }
        vm.assertLe(drawn, 5); // 0.64 expected in 40 draws
        vm.prank(VALIDATOR1);
        market.requestUnbond(); // an unbonding validator's stake no longer counts
        vm.assertEq(market.validatorStake(), 4 ether);
    }
}
