// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Cheats} from "./Cheats.sol";
import {ParisMarket} from "../src/ParisMarket.sol";

contract ParisMarketTest is Cheats {
    ParisMarket internal market;
    address internal constant REQUESTER = address(0xA11CE);
    address internal constant MINER = address(0xB0B);
    bytes32 internal constant SPEC = keccak256("spec");
    uint32 internal constant RAW = 0x55;

    function setUp() public {
        market = new ParisMarket();
        vm.deal(REQUESTER, 100 ether);
    }

    function _job() internal returns (uint256) {
        vm.prank(REQUESTER);
        return market.createJob{value: 1 ether}(SPEC, RAW, 2);
    }

    function test_createJob_storesEscrowAndSpec() public {
        uint256 id = _job();
        (address requester, uint96 escrow, uint16 experts, uint32 codec, bytes32 digest) = market.jobs(id);
        vm.assertEq(id, 1);
        vm.assertEq(requester, REQUESTER);
        vm.assertEq(uint256(escrow), 1 ether);
        vm.assertEq(uint256(experts), 2);
        vm.assertEq(uint256(codec), RAW);
        vm.assertEq(digest, SPEC);
        vm.assertEq(address(market).balance, 1 ether);
    }

    function test_createJob_revertsWithoutEscrow() public {
        vm.expectRevert(abi.encodeWithSelector(ParisMarket.ZeroEscrow.selector));
        market.createJob(SPEC, RAW, 2);
    }

    function test_createJob_revertsWithoutExperts() public {
        vm.prank(REQUESTER);
        vm.expectRevert(abi.encodeWithSelector(ParisMarket.ZeroExperts.selector));
        market.createJob{value: 1}(SPEC, RAW, 0);
    }

    function test_submitDelta_emitsEvent() public {
        uint256 id = _job();
        vm.expectEmit(true, true, true, true);
        emit ParisMarket.DeltaSubmitted(id, 1, MINER, 1, 0, keccak256("delta"), RAW, keccak256("trace"));
        vm.prank(MINER);
        uint256 deltaId = market.submitDelta(id, 1, 0, keccak256("delta"), RAW, keccak256("trace"));
        vm.assertEq(deltaId, 1);
    }

    function test_submitDelta_revertsOnUnknownJob() public {
        vm.expectRevert(abi.encodeWithSelector(ParisMarket.UnknownJob.selector, 7));
        market.submitDelta(7, 0, 0, bytes32(0), RAW, bytes32(0));
    }

    function test_submitDelta_revertsOnExpertOutOfRange() public {
        uint256 id = _job();
        vm.expectRevert(abi.encodeWithSelector(ParisMarket.ExpertOutOfRange.selector, id, 2, 2));
        market.submitDelta(id, 2, 0, bytes32(0), RAW, bytes32(0));
    }

    function test_submitDelta_revertsOnDuplicate() public {
        uint256 id = _job();
        vm.prank(MINER);
        market.submitDelta(id, 0, 3, bytes32(0), RAW, bytes32(0));
        vm.prank(MINER);
        vm.expectRevert(abi.encodeWithSelector(ParisMarket.DuplicateDelta.selector, id, 0, 3, MINER));
        market.submitDelta(id, 0, 3, bytes32(0), RAW, bytes32(0));
    }

    function testFuzz_createJob_escrowsValue(uint96 value, uint16 experts) public {
        vm.assume(value > 0 && experts > 0);
        vm.deal(REQUESTER, value);
        vm.prank(REQUESTER);
        uint256 id = market.createJob{value: value}(SPEC, RAW, experts);
        (, uint96 escrow,,,) = market.jobs(id);
        vm.assertEq(uint256(escrow), uint256(value));
        vm.assertEq(address(market).balance, uint256(value));
    }
}
