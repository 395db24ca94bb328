// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Headers} from "./Headers.sol";
import {ParisMarket} from "../src/ParisMarket.sol";
import {IParisMarketTypes} from "../src/IParisMarket.sol";
import {IParisCourt} from "../src/IParisCourt.sol";

/// @notice A deployed market with funded, staked participants and helpers that walk a delta through its life.
abstract contract MarketFixture is Headers {
    ParisMarket internal market;
    IParisCourt internal court; // the market's address, for the calls its court answers

    uint96 internal constant MIN_STAKE = 1 ether;
    uint40 internal constant UNBONDING = 7 days;
    uint8 internal constant DELAY = 2;
    uint40 internal constant VOTE_WINDOW = 10 minutes;
    bytes32 internal constant SALT = keccak256("salt");
    uint32 internal constant RAW = 0x55;
    bytes32 internal constant SPEC = keccak256("spec");

    address internal constant REQUESTER = address(0xA11CE);
    address internal constant AGGREGATOR = address(0xA66);
    address internal constant MINER1 = address(0xB0B1);
    address internal constant MINER2 = address(0xB0B2);
    address internal constant VALIDATOR1 = address(0xC0C1);
    address internal constant VALIDATOR2 = address(0xC0C2);
    address internal constant VALIDATOR3 = address(0xC0C3);

    function setUp() public virtual {
        vm.warp(1_000_000);
        vm.roll(100);
        vm.prevrandao(_mixOf(100));
        market = new ParisMarket(MIN_STAKE, UNBONDING, DELAY, VOTE_WINDOW);
        court = IParisCourt(address(market));
        address[7] memory everyone = [REQUESTER, AGGREGATOR, MINER1, MINER2, VALIDATOR1, VALIDATOR2, VALIDATOR3];
        for (uint256 i; i < everyone.length; ++i) {
            vm.deal(everyone[i], 1_000 ether);
        }
        _stake(MINER1, market.ROLE_MINER());
        _stake(MINER2, market.ROLE_MINER());
        _stake(VALIDATOR1, market.ROLE_VALIDATOR());
        _stake(VALIDATOR2, market.ROLE_VALIDATOR());
        _stake(VALIDATOR3, market.ROLE_VALIDATOR());
        _stake(AGGREGATOR, market.ROLE_AGGREGATOR());
    }

    function _stake(address who, uint8 roles) internal {
        vm.prank(who);
        market.stake{value: 2 ether}(roles);
    }

    function _terms() internal view returns (IParisMarketTypes.JobTerms memory) {
        return IParisMarketTypes.JobTerms({
            specDigest: SPEC,
            specCodec: RAW,
            experts: 2,
            rounds: 3,
            rewardPerRound: 2 ether,
            validatorFee: 0.01 ether,
            deadline: uint40(block.timestamp + 30 days),
            revealWindow: 1 hours,
            stalenessBound: 1,
            quorum: 2,
            challenges: 2,
            aggregator: AGGREGATOR
        });
    }

    function _job() internal returns (uint256) {
        vm.prank(REQUESTER);
        return market.createJob{value: 10 ether}(_terms());
    }

    function _submit(address miner, uint256 jobId, uint16 expert, uint32 baseVersion) internal returns (uint256) {
        vm.prank(miner);
        return market.submitDelta(jobId, expert, baseVersion, 0, keccak256(abi.encode(miner, baseVersion)), RAW,
            keccak256("trace"), 8);
    }

    function _reveal(uint256 deltaId) internal {
        address miner = market.getDelta(deltaId).miner;
        vm.roll(block.number + DELAY + 1);
        _fix(deltaId);
        vm.prank(miner);
        market.reveal(deltaId, keccak256("reveal"), RAW);
    }

    /// @dev Fix a delta's (or dispute's) challenge from its challenge block, which must be readable.
    function _fix(uint256 deltaId) internal {
        uint256 target = market.getDelta(deltaId).submittedBlock + DELAY;
        market.fixChallenge(deltaId, _provenHeader(target, _mixOf(target)));
    }

    /// @dev Seal `validator`'s vote on a revealed delta.
    function _commit(address validator, uint256 deltaId, bool pass, uint32 score) internal {
        bytes32 commitment = court.voteCommitment(deltaId, validator, pass, score, SALT);
        vm.prank(validator);
        court.commitVote(deltaId, commitment);
    }

    /// @dev Open `validator`'s sealed vote (the clock must be in the delta's reveal phase).
    function _open(address validator, uint256 deltaId, bool pass, uint32 score) internal {
        vm.prank(validator);
        court.revealVote(deltaId, pass, score, SALT);
    }

    /// @dev Move the clock `phases` vote windows past the delta's reveal (1: reveal phase, 2: decision, 3: settled).
    function _toPhase(uint256 deltaId, uint256 phases) internal {
        vm.warp(uint256(market.getDelta(deltaId).revealedAt) + phases * VOTE_WINDOW + 1);
    }

    /// @dev VALIDATOR1 and VALIDATOR2 (equal stakes) vote `pass1` and `pass2`, open their votes, and the delta is
    ///      decided when they agree.
    function _votes(uint256 deltaId, bool pass1, bool pass2, uint32 score) internal {
        _commit(VALIDATOR1, deltaId, pass1, score);
        _commit(VALIDATOR2, deltaId, pass2, score);
        _toPhase(deltaId, 1);
        _open(VALIDATOR1, deltaId, pass1, score);
        _open(VALIDATOR2, deltaId, pass2, score);
        _toPhase(deltaId, 2);
        if (pass1 == pass2) court.decide(deltaId);
    }

    function _pass(uint256 deltaId, uint32 score) internal {
        _votes(deltaId, true, true, score);
    }

    function _fail(uint256 deltaId) internal {
        _votes(deltaId, false, false, 0);
    }

    function _passed(address miner, uint256 jobId, uint16 expert, uint32 base, uint32 score) internal returns (uint256 id) {
        id = _submit(miner, jobId, expert, base);
        _reveal(id);
        _pass(id, score);
    }

    /// @dev Past the dispute window of the merges just finalized: claims and the next merges may go on.
    function _settleMerges() internal {
        vm.warp(block.timestamp + VOTE_WINDOW + 1);
    }

    function _ids(uint256 a) internal pure returns (uint256[] memory ids) {
        ids = new uint256[](1);
        ids[0] = a;
    }

    function _ids(uint256 a, uint256 b) internal pure returns (uint256[] memory ids) {
        ids = new uint256[](2);
        ids[0] = a;
        ids[1] = b;
    }

    function _state(uint256 deltaId) internal view returns (IParisMarketTypes.DeltaState) {
        return market.getDelta(deltaId).state;
    }

    function _payout(uint256 deltaId) internal view returns (uint256) {
        return market.getDelta(deltaId).payout;
    }

    function _escrow(uint256 jobId) internal view returns (uint256) {
        return market.getJob(jobId).escrow;
    }

    function _stakeOf(address who) internal view returns (uint256, bool) {
        IParisMarketTypes.Stake memory s = market.getStake(who);
        return (s.amount, s.slashed);
    }
}

/// @notice The fixture with one job (`_terms()`, 10 ether) opened before each test.
abstract contract JobFixture is MarketFixture {
    uint256 internal jobId;

    function setUp() public virtual override {
        super.setUp();
        jobId = _job();
    }
}
